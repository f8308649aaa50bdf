"""Build ``staging.stg_child_zscores`` from ``staging.stg_child_measurements`` (pure DuckDB +
NumPy, no Dagster): the months asked for are replaced in one transaction, unless the
measurements, the WHO tables and this code are those they were last built from."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from pipelines import tables
from pipelines.growth.zscores import compute_zscores
from pipelines.periods import period_filter_sql
from pipelines.sql_engine import build_state

TABLE = "staging.stg_child_zscores"
INPUTS = ["staging.stg_child_measurements", "reference.who_growth_lms"]
# What the scores depend on besides their inputs: the z-score code itself.
CODE_VERSION = hashlib.sha256(b"".join(
    (Path(__file__).resolve().parent / name).read_bytes() for name in ("zscores.py", "batch.py")
)).hexdigest()[:16]
# Streamed in batches so a national month never sits whole in memory.
BATCH_ROWS = 1_000_000


@dataclass(frozen=True)
class ZscoreBuild:
    """What :func:`build_zscores` did: rows now held for the months asked, whether they were
    rebuilt, flag counts (when rebuilt) and the table's version afterwards."""

    rows: int
    rebuilt: bool
    whole: bool
    version: str
    flagged: dict[str, int] | None = None


def _has_declared_columns(con) -> bool:
    """Whether the table exists with every column it is declared with (False for a table from
    before partitioning, without ``period``, or from before the unrounded scores)."""
    have = {name for (name,) in con.execute(
        "select column_name from information_schema.columns where table_schema = 'staging' "
        "and table_name = 'stg_child_zscores'"
    ).fetchall()}
    return {name for name, _ in tables.TABLES[TABLE].columns} <= have


def _replace(con, where: str, create: bool, whole: bool, record_version) -> None:
    """Delete the rows matching ``where`` and insert them recomputed, in one transaction with
    ``record_version`` (so that rows and version change together)."""
    out = con.cursor()
    out.execute("begin transaction")
    if create:
        tables.create(out, TABLE, replace=True)
    out.execute(f"delete from {TABLE} where {where}")
    reader = con.sql(
        "select period, child_id, measured_on, age_days, sex, weight_kg, lenhei_cm, measure "
        f"from staging.stg_child_measurements where {where}"
    ).to_arrow_reader(BATCH_ROWS)
    for batch in reader:
        df = batch.to_pandas()
        z = compute_zscores(df["sex"], df["age_days"], df["weight_kg"], df["lenhei_cm"], df["measure"])
        out.register("_z", pa.Table.from_pandas(df[["period", "child_id", "measured_on", "age_days"]].join(z),
                                                preserve_index=False))
        out.execute(f"insert into {TABLE} by name select * from _z")
        out.unregister("_z")
    record_version(out, whole)  # in the same transaction as the scores
    out.execute("commit")


def build_zscores(con, months: list[str] | None) -> ZscoreBuild:
    """Recompute the z-scores of ``months`` (all when None, on a first build, or when the table
    lacks a declared column)."""
    current = _has_declared_columns(con)
    # Missing, or an older layout: rebuild it whole with the declared columns, so that no month
    # keeps rows scored by older code.
    whole = not current or not months
    where = "true" if whole else period_filter_sql("period", months)
    rebuilt = build_state.rebuild_unless_current(
        con, TABLE, [CODE_VERSION, sorted(months) if months else None], INPUTS, months, where,
        lambda record: _replace(con, where, not current, whole, record),
        force=not current,
    )
    n, *flags = con.execute(
        "select count(*), count(*) filter (flag_haz), count(*) filter (flag_waz), count(*) filter (flag_whz), "
        f"count(*) filter (flag_c9mo) from {TABLE} where {where}"
    ).fetchall()[0]
    flagged = dict(zip(("n_flag_haz", "n_flag_waz", "n_flag_whz", "n_flag_c9mo"), flags, strict=True))
    return ZscoreBuild(n, rebuilt, whole, build_state.table_version(con, TABLE), flagged if rebuilt else None)
