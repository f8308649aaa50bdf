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
from pipelines.settings import duckdb_config

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


# ZSTD level 1 instead of DuckDB's default 3: a Banten month's fct_child_measurement (1.09 M rows)
# 1.44-1.59 -> 0.82-1.01 CPU s to write, 54.8 -> 57.4 MB (snappy: as fast, 77.6 MB; 2026-12-03).
PARQUET_ZSTD_LEVEL = 1


def export_marts_parquet(database: Path, out_dir: Path, schema: str = "marts") -> dict:
    """Write ``out_dir/<table>.parquet`` for every table of ``schema``, each replaced atomically."""
    started = time.perf_counter()
    staged = stage_marts_parquet(database, out_dir, schema)
    return install_parquet(staged, out_dir, started)


def stage_marts_parquet(database: Path, out_dir: Path, schema: str = "marts") -> list[tuple[Path, Path]]:
    """Write every table of ``schema`` to a hidden temporary file in ``out_dir`` (readers see none
    of them yet): ``(temporary, final)`` pairs for :func:`install_parquet` or :func:`discard_parquet`."""
    private_mkdir(out_dir)
    mode = published_mode()
    # Attached read-only to a connection of its own, as the publish copy reads it: no clash with a
    # connection to the same file opened elsewhere in this process with other settings.
    con = duckdb.connect(config=duckdb_config())
    staged: list[tuple[Path, Path]] = []
    try:
        con.execute(f"attach '{str(database).replace(chr(39), chr(39) * 2)}' as src (read_only)")
        con.execute("use src")
        tables = [t for (t,) in con.execute(
            "select table_name from information_schema.tables where table_catalog = 'src' and table_schema = ? "
            "order by 1", [schema]
        ).fetchall()]
        for table in tables:
            final = out_dir / f"{table}.parquet"
            tmp = out_dir / f".{table}.parquet.tmp"
            staged.append((tmp, final))
            path = str(tmp).replace("'", "''")
            con.execute(f"copy ({_escaped_select(con, schema, table)}) to '{path}' "
                        f"(format parquet, compression zstd, compression_level {PARQUET_ZSTD_LEVEL})")
            os.chmod(tmp, mode)  # the marts, as in the published file: no world read by default
    except BaseException:
        discard_parquet(staged)
        raise
    finally:
        con.close()
    return staged


def install_parquet(staged: list[tuple[Path, Path]], out_dir: Path, started: float) -> dict:
    """Move staged files into place, each by one atomic rename."""
    for tmp, final in staged:
        os.replace(tmp, final)
    return {"parquet_dir": str(out_dir), "parquet_files": len(staged),
            "parquet_seconds": round(time.perf_counter() - started, 3)}


def discard_parquet(staged: list[tuple[Path, Path]]) -> None:
    for tmp, _ in staged:
        tmp.unlink(missing_ok=True)
