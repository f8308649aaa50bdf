"""Dagster glue for the dbt-like SQL runner (:mod:`pipelines.sql_engine.models`)."""


import hashlib

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset_check,
)

from pipelines import tables
from pipelines.assets._meta import markdown_table
from pipelines.partitions import MONTHLY, SINGLE_RUN, context_months
from pipelines.resources import WarehouseResource
from pipelines.settings import WAREHOUSE_POOL
from pipelines.sql_engine import build_state
from pipelines.sql_engine.model_tests import run_model_tests
from pipelines.sql_engine.models import SqlModel, SqlModelError, build_model


def _model_asset(model: SqlModel, deps: list[AssetKey]):
    partitioned = bool(model.partition_by)

    @asset(
        key=tables.key(model.table),
        deps=deps,
        description=model.description or None,
        group_name=model.layer,
        kinds={"duckdb", "sql"},
        pool=WAREHOUSE_POOL,
        metadata={"sql_file": MetadataValue.path(str(model.path)), "table": model.table},
        code_version=hashlib.sha256(model.sql.encode()).hexdigest()[:12],
        partitions_def=MONTHLY if partitioned else None,
        backfill_policy=SINGLE_RUN if partitioned else None,
    )
    def _build(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        months = context_months(context) if partitioned else None
        with warehouse.connect() as con:
            n, rebuilt = build_model(con, model, months)
            version = build_state.table_version(con, model.table)
            preview = con.execute(f"select * from {model.table} limit 5").df()
        # Not rebuilt: its SQL and the versions of every table it reads are those of its last
        # build, so the table already holds what a rebuild would write (pipelines/sql_engine/build_state.py).
        meta = {"row_count": n, "rebuilt": rebuilt, "preview": markdown_table(preview)}
        if months:
            meta["months"] = f"{months[0]}..{months[-1]}"
        # Dagster sees an unchanged version when nothing was rebuilt: downstream is not stale.
        return MaterializeResult(metadata=meta, data_version=DataVersion(version))

    return _build


def _model_checks(model: SqlModel):
    """All YAML tests of one model as one multi-check: one step (and one connection) per model
    instead of one per test, which at ~0.07 s of Dagster overhead per step is most of a no-op
    run. Each test is still its own check in the UI, with its own result and severity."""
    partitioned = bool(model.partition_by)
    key = tables.key(model.table)
    specs = {
        test.name: AssetCheckSpec(
            name=test.name,
            asset=key,
            blocking=test.severity == "error",
            description=f"{test.kind} ({test.severity}) on {model.table}" + (f".{test.column}" if test.column else ""),
            partitions_def=MONTHLY if partitioned else None,
        )
        for test in model.tests
    }
    tests = {t.name: t for t in model.tests}

    @multi_asset_check(specs=list(specs.values()), name=f"{model.layer}__{model.name}__tests", can_subset=True)
    def _checks(context: AssetCheckExecutionContext, warehouse: WarehouseResource):
        months = context_months(context) if partitioned else None
        selected = {k.name for k in context.selected_asset_check_keys}
        with warehouse.connect() as con:
            build_state.ensure(con)
            outcomes = run_model_tests(con, model, [t for name, t in tests.items() if name in selected], months)
        for outcome in outcomes:
            yield AssetCheckResult(
                asset_key=key,
                check_name=outcome.test.name,
                passed=outcome.failing == 0,
                severity=AssetCheckSeverity.ERROR if outcome.test.severity == "error" else AssetCheckSeverity.WARN,
                metadata={"failing_rows": outcome.failing, "reused": outcome.reused,
                          "query": MetadataValue.md(f"```sql\n{outcome.query}\n```")},
            )

    return _checks


def build_sql_assets(models: list[SqlModel], python_tables: dict[str, AssetKey]):
    """One asset per model and one check per YAML test; deps from the tables each SQL reads.

    ``python_tables`` maps tables written by Python assets (raw, reference) to their keys. A model
    reading a table nobody produces is an error at load time, not a surprise at run time.
    """
    known = dict(python_tables)
    known.update({m.table: tables.key(m.table) for m in models})
    assets, checks = [], []
    for model in models:
        deps = []
        for ref in sorted(model.upstream_tables):
            if ref not in known:
                raise SqlModelError(f"{model.path}: reads {ref}, which no asset produces")
            if ref != model.table:
                deps.append(known[ref])
        assets.append(_model_asset(model, deps))
        if model.tests:
            checks.append(_model_checks(model))
    return assets, checks
