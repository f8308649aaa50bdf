"""Region master: the official Kemendagri code list loaded into ``raw.region_master``; and the
run's as-of date (``reference.run_date``), the calendar the marts judge deadlines against."""

from __future__ import annotations

import pandas as pd
from dagster import DataVersion, MaterializeResult, asset

from pipelines import tables
from pipelines.periods import as_of_date
from pipelines.resources import RegionMasterResource, WarehouseResource
from pipelines.settings import WAREHOUSE_POOL, env_value
from pipelines.sql_engine import build_state

REGION_COLUMNS = ["code", "level", "name", "parent_code"]
LEVELS = {"province", "regency", "district", "village"}


def read_region_master(path) -> pd.DataFrame:
    """Read and validate a region master CSV; raise ValueError naming the file and problem."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    missing = [c for c in REGION_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: region master lacks columns {', '.join(missing)}")
    df = df[REGION_COLUMNS].apply(lambda s: s.str.strip())
    bad_level = sorted(set(df["level"]) - LEVELS)
    if bad_level:
        raise ValueError(f"{path}: unknown levels {bad_level}")
    dupes = df["code"][df["code"].duplicated()].tolist()
    if dupes:
        raise ValueError(f"{path}: duplicate codes {dupes[:5]}")
    expected_depth = df["level"].map({"province": 1, "regency": 2, "district": 3, "village": 4})
    bad_code = df[df["code"].str.count(r"\.") + 1 != expected_depth]
    if len(bad_code):
        raise ValueError(f"{path}: codes do not match their level, e.g. {bad_code['code'].iloc[0]}")
    df["parent_code"] = df["parent_code"].replace("", None)
    return df


@asset(
    key=tables.key("raw.region_master"),
    group_name="raw",
    kinds={"duckdb", "csv"},
    pool=WAREHOUSE_POOL,
)
def raw_region_master(warehouse: WarehouseResource, region_master: RegionMasterResource) -> MaterializeResult:
    """Kemendagri region master (``raw.region_master``): one row per province, regency, district
    and village code, read from KONVERGENSI_REGION_MASTER (default: the bundled official file)."""
    df = read_region_master(region_master.file)
    with warehouse.connect() as con:
        con.register("_regions", df)
        con.execute("begin transaction")
        tables.create(con, "raw.region_master", replace=True)
        con.execute("insert into raw.region_master by name select * from _regions order by code")
        build_state.ensure(con)
        version = build_state.content_digest(con, "raw.region_master")
        build_state.record(con, "raw.region_master", version)
        con.execute("commit")
        con.unregister("_regions")
    counts = df["level"].value_counts().to_dict()
    return MaterializeResult(
        data_version=DataVersion(version),
        metadata={"source_file": str(region_master.file), "row_count": len(df), **{f"n_{k}": v for k, v in counts.items()}}
    )


@asset(
    key=tables.key("reference.run_date"),
    group_name="reference",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
)
def reference_run_date(warehouse: WarehouseResource) -> MaterializeResult:
    """The date the marts are as of (``reference.run_date``): today in WIB, or
    KONVERGENSI_AS_OF_DATE. Its version is the date, so only the marts that read it (overdue
    actions and target progress) rebuild when the day changes."""
    override = env_value("KONVERGENSI_AS_OF_DATE")
    day = as_of_date(override)
    source = "KONVERGENSI_AS_OF_DATE" if override.strip() else "today (WIB)"
    with warehouse.connect() as con:
        con.execute("begin transaction")
        tables.create(con, "reference.run_date", replace=True)
        con.execute("insert into reference.run_date values (?, ?)", [day, source])
        build_state.ensure(con)
        version = build_state.content_digest(con, "reference.run_date")
        build_state.record(con, "reference.run_date", version)
        con.execute("commit")
    return MaterializeResult(data_version=DataVersion(version), metadata={"as_of_date": day.isoformat(), "source": source})
