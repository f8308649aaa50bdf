"""Operators' set-aside decisions (``raw.submission_exclusions``): the table's asset in the nightly
graph, and the ``set_aside_submission`` job that records a decision from the UI (the same function
as ``konvergensi set-aside``: :func:`pipelines.ingestion.exclusions.record_decision`)."""


from dagster import (
    AssetMaterialization,
    Config,
    DataVersion,
    Failure,
    MaterializeResult,
    OpExecutionContext,
    asset,
    in_process_executor,
    job,
    op,
)

from pipelines import tables
from pipelines.ingestion.exclusions import TABLE, SetAsideError, record_decision
from pipelines.resources import WarehouseResource
from pipelines.settings import WAREHOUSE_POOL
from pipelines.sql_engine import build_state


@asset(key=tables.key(TABLE), group_name="raw", kinds={"duckdb"}, pool=WAREHOUSE_POOL)
def submission_exclusions(warehouse: WarehouseResource) -> MaterializeResult:
    """Operators' decisions to set a submission aside or re-include it (``raw.submission_exclusions``,
    one row per decision, append-only). Written only by ``konvergensi set-aside`` and the
    ``set_aside_submission`` job; the nightly run makes sure it exists and versions it, so
    ``stg_submissions`` is rebuilt after a decision."""
    with warehouse.connect() as con:
        tables.ensure(con, TABLE)
        version = build_state.table_version(con, TABLE)
        n = con.execute(f"select count(*) from {TABLE}").fetchall()[0][0]
    return MaterializeResult(data_version=DataVersion(version), metadata={"n_decisions": n})


class SetAsideConfig(Config):
    """Run config of ``set_aside_submission`` (docs/operations.md, "Setting a submission aside")."""

    submission_id: str
    reason: str
    operator: str
    undo: bool = False


@op(pool=WAREHOUSE_POOL, out={})
def record_set_aside_decision(context: OpExecutionContext, config: SetAsideConfig, warehouse: WarehouseResource):
    """Append the decision to raw.submission_exclusions; the next run rebuilds staging and marts."""
    try:
        with warehouse.connect() as con:
            decision = record_decision(con, config.submission_id, config.reason, config.operator, undo=config.undo)
    except SetAsideError as exc:
        raise Failure(description=str(exc)) from exc
    context.log.info(decision.summary())
    yield AssetMaterialization(
        asset_key=tables.key(TABLE),
        description=decision.summary(),
        metadata={"submission_id": decision.submission_id, "action": decision.action, "operator": decision.operator,
                  "reason": decision.reason, "file": f"{decision.stream}/{decision.file_name}"},
    )


@job(executor_def=in_process_executor,
     description="Set one submission aside (or re-include it with undo: true): run config "
                 "{submission_id, reason, operator, undo}. The next nightly run publishes without it.")
def set_aside_submission():
    record_set_aside_decision()
