"""Parquet exports of the marts for BI tools that prefer files (pure DuckDB, no Dagster).

Text cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``@``, a tab or
carriage return, or ``-`` followed by something that is not a number) are prefixed with an
apostrophe, so a file opened in Excel or LibreOffice never executes what a submitter typed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import duckdb

from pipelines.publishing.contents import private_mkdir, published_mode

FORMULA_PATTERN = r"^([=+@\t\r]|-[^0-9.])"


def _escaped_select(con, schema: str, table: str) -> str:
    cols = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()
    parts = []
    for name, dtype in cols:
        ident = '"' + name.replace('"', '""') + '"'
        if dtype == "VARCHAR":
            parts.append(
                f"case when regexp_matches({ident}, '{FORMULA_PATTERN}') then '''' || {ident} else {ident} end as {ident}"
            )
        else:
            parts.append(ident)
    return f'select {", ".join(parts)} from "{schema}"."{table}"'


def export_marts_parquet(database: Path, out_dir: Path, schema: str = "marts") -> dict:
    """Write ``out_dir/<table>.parquet`` for every table of ``schema``, each replaced atomically."""
    started = time.perf_counter()
    private_mkdir(out_dir)
    mode = published_mode()
    con = duckdb.connect(str(database), read_only=True)
    written = []
    try:
        tables = [t for (t,) in con.execute(
            "select table_name from information_schema.tables where table_schema = ? order by 1", [schema]
        ).fetchall()]
        for table in tables:
            final = out_dir / f"{table}.parquet"
            tmp = out_dir / f".{table}.parquet.tmp"
            path = str(tmp).replace("'", "''")
            con.execute(f"copy ({_escaped_select(con, schema, table)}) to '{path}' (format parquet, compression zstd)")
            os.chmod(tmp, mode)  # the marts, as in the published file: no world read by default
            os.replace(tmp, final)
            written.append(final.name)
    finally:
        con.close()
    return {"parquet_dir": str(out_dir), "parquet_files": len(written), "parquet_seconds": round(time.perf_counter() - started, 3)}
