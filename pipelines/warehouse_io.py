"""Publishing the warehouse file that BI tools read (pure DuckDB + filesystem, no Dagster).

DuckDB allows one writing process or many readers. The pipeline writes only its working file;
publishing copies that database into a new file written in the DuckDB 1.4 storage format (the
line BI drivers embed), checkpoints and closes it, then renames it over the published path.
Readers holding the old file keep their open handle; new readers see the new file; a crash
before the rename leaves the previous file untouched.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import duckdb

# Files written in this format open in DuckDB 1.4 and later.
PUBLISH_STORAGE_VERSION = "v1.4.0"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish_database(work_path: Path, published_path: Path) -> dict:
    """Copy ``work_path`` into a fresh file and atomically rename it onto ``published_path``.

    Returns figures for asset metadata: bytes written and seconds taken.
    """
    started = time.perf_counter()
    published_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = published_path.parent / f".{published_path.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        con = duckdb.connect()
        try:
            con.execute(f"attach '{_sql_path(work_path)}' as src (read_only)")
            con.execute(
                f"attach '{_sql_path(tmp)}' as pub (storage_version '{PUBLISH_STORAGE_VERSION}')"
            )
            con.execute("copy from database src to pub")
            con.execute("checkpoint pub")
            con.execute("detach pub")
            con.execute("detach src")
        finally:
            con.close()
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        # A WAL left by a crashed writer belongs to the old file; replayed onto the new one it
        # would corrupt it, so it goes before the rename.
        stale_wal = published_path.with_name(published_path.name + ".wal")
        if stale_wal.exists():
            stale_wal.unlink()
        os.replace(tmp, published_path)
        _fsync_dir(published_path.parent)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            if leftover.exists():
                leftover.unlink()
    return {
        "published_path": str(published_path),
        "bytes": published_path.stat().st_size,
        "seconds": round(time.perf_counter() - started, 3),
    }


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
