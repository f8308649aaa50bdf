"""Dagster glue for the dbt-like SQL runner (:mod:`pipelines.sql_models`)."""


import hashlib

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from pipelines.assets._meta import markdown_table
from pipelines.partitions import MONTHLY, SINGLE_RUN, context_months
from pipelines.resources import WarehouseResource
from pipelines.settings import WAREHOUSE_POOL
from pipelines.sql_models import ModelTest, SqlModel, SqlModelError, check_sql, run_model


def _model_asset(model: SqlModel, deps: list[AssetKey]):
    partitioned = bool(model.partition_by)

    @asset(
        key=AssetKey([model.layer, model.name]),
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
            n = run_model(con, model, months)
            preview = con.execute(f"select * from {model.table} limit 5").df()
        meta = {"row_count": n, "preview": markdown_table(preview)}
        if months:
            meta["months"] = f"{months[0]}..{months[-1]}"
        return MaterializeResult(metadata=meta)

    return _build


def _model_check(model: SqlModel, test: ModelTest):
    blocking = test.severity == "error"
    partitioned = bool(model.partition_by)

    @asset_check(
        asset=AssetKey([model.layer, model.name]),
        name=test.name,
        blocking=blocking,
        description=f"{test.kind} ({test.severity}) on {model.table}" + (f".{test.column}" if test.column else ""),
        partitions_def=MONTHLY if partitioned else None,
    )
    def _check(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
        query = check_sql(model, test, context_months(context) if partitioned else None)
        with warehouse.connect() as con:
            failing = con.execute(query).fetchall()[0][0]
        return AssetCheckResult(
            passed=failing == 0,
            severity=AssetCheckSeverity.ERROR if blocking else AssetCheckSeverity.WARN,
            metadata={"failing_rows": int(failing), "query": MetadataValue.md(f"```sql\n{query}\n```")},
        )

    return _check


def build_sql_assets(models: list[SqlModel], python_tables: dict[str, AssetKey]):
    """One asset per model and one check per YAML test; deps from the tables each SQL reads.

    ``python_tables`` maps tables written by Python assets (raw, reference) to their keys. A model
    reading a table nobody produces is an error at load time, not a surprise at run time.
    """
    known = dict(python_tables)
    known.update({m.table: AssetKey([m.layer, m.name]) for m in models})
    assets, checks = [], []
    for model in models:
        deps = []
        for ref in sorted(model.upstream_tables):
            if ref not in known:
                raise SqlModelError(f"{model.path}: reads {ref}, which no asset produces")
            if ref != model.table:
                deps.append(known[ref])
        assets.append(_model_asset(model, deps))
        checks.extend(_model_check(model, t) for t in model.tests)
    return assets, checks
