"""Publishing the warehouse file that BI tools read (pure DuckDB + filesystem, no Dagster).

DuckDB allows one writing process or many readers. The pipeline writes only its working file;
publishing copies what BI reads (:data:`PUBLISHED_SCHEMAS`: the marts, the dimensions among them,
and the reference settings, with their table and column comments) into a new file written in the
DuckDB 1.4 storage format (the line BI drivers embed), checkpoints, fsyncs and closes it, then
renames it over the published path. Raw rows, refused rows' payloads, file names and landing paths
(``raw``, ``quarantine``, ``staging``) stay in the working file; ``marts.fct_quarantine_summary``
counts the refusals for BI. The file is created with mode :func:`published_mode` (0640: no world
read unless ``KONVERGENSI_PUBLISHED_MODE`` says otherwise), and a folder the publish creates 0750.
Readers holding the old file keep their open handle (the old inode); new readers see the new
file; a crash before the rename leaves the previous file untouched.

Before each rename the file being replaced is kept as
``<dir>/published/<stem>.<YYYYmmddTHHMMSSffffffZ>.duckdb`` (a hard link when the filesystem
allows, so keeping costs no copy); the newest :data:`KEEP_PUBLISHED` (``KONVERGENSI_KEEP_PUBLISHED``) are kept and older ones
pruned. :mod:`pipelines.publishing.rollback` puts a kept file back.

Publishers (a publish, a rollback) take an exclusive ``flock`` on ``<dir>/.<name>.lock``, so the
clean-up of a crashed publish's temp files never deletes the temp file of a running one. The
kernel drops the lock when its holder dies, even by SIGKILL.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.publishing.contents import (
    PUBLISHED_SCHEMAS,
    copy_published_tables,
    private_mkdir,
    published_mode,
)
from pipelines.settings import DEFAULT_KEEP_PUBLISHED, duckdb_config, keep_published
from pipelines.sql_engine.build_state import BOOKKEEPING, state_token

# Files written in this format open in DuckDB 1.4 and later.
PUBLISH_STORAGE_VERSION = "v1.4.0"

# How many previously published files are kept for rollback (0 disables keeping), unless
# KONVERGENSI_KEEP_PUBLISHED says otherwise (settings.keep_published).
KEEP_PUBLISHED = DEFAULT_KEEP_PUBLISHED

KEPT_DIR_NAME = "published"
_STAMP_FORMAT = "%Y%m%dT%H%M%S%fZ"
_STAMP_RE = r"\d{8}T\d{12}Z"


@dataclass(frozen=True)
class KeptVersion:
    """A previously published file kept for rollback."""

    name: str
    path: Path
    kept_at: dt.datetime
    size: int


def kept_dir(published_path: Path) -> Path:
    """Folder holding the kept versions of ``published_path``."""
    return published_path.parent / KEPT_DIR_NAME


def list_kept(published_path: Path) -> list[KeptVersion]:
    """Kept versions of ``published_path``, newest first (by the UTC stamp in their name)."""
    folder = kept_dir(published_path)
    if not folder.is_dir():
        return []
    pattern = re.compile(rf"{re.escape(published_path.stem)}\.({_STAMP_RE})\.duckdb")
    found = []
    for entry in folder.iterdir():
        match = pattern.fullmatch(entry.name)
        if not match:
            continue
        try:
            size = entry.stat().st_size
        except FileNotFoundError:  # pruned by a publish between listing and stat (--list takes no lock)
            continue
        stamp = dt.datetime.strptime(match.group(1), _STAMP_FORMAT).replace(tzinfo=dt.UTC)
        found.append(KeptVersion(entry.name, entry, stamp, size))
    return sorted(found, key=lambda kept: kept.kept_at, reverse=True)


def prune_kept(published_path: Path, keep: int = KEEP_PUBLISHED) -> list[str]:
    """Delete kept versions beyond the newest ``keep``; returns the names deleted."""
    pruned = []
    for old in list_kept(published_path)[max(keep, 0) :]:
        old.path.unlink(missing_ok=True)
        pruned.append(old.name)
    return pruned


def keep_current(
    published_path: Path, keep: int = KEEP_PUBLISHED, now: dt.datetime | None = None
) -> str | None:
    """Preserve the currently published file in the kept folder, then prune to ``keep``.

    A hard link when possible: no bytes copied, and the kept entry is the very inode readers
    may hold open. Otherwise a copy, written under a temp name and renamed, so a crash never
    leaves a half-copied kept version.

    Returns:
        The kept file's name, or None when nothing is published yet or keeping is disabled
        (``keep`` 0, which also prunes every kept file).
    """
    if keep <= 0 or not published_path.is_file():
        prune_kept(published_path, keep)
        return None
    folder = kept_dir(published_path)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    target = folder / f"{published_path.stem}.{stamp.strftime(_STAMP_FORMAT)}.duckdb"
    while target.exists():  # two publishes within one microsecond (tests, clock steps)
        stamp += dt.timedelta(microseconds=1)
        target = folder / f"{published_path.stem}.{stamp.strftime(_STAMP_FORMAT)}.duckdb"
    try:
        os.link(published_path, target)
    except OSError:
        tmp = folder / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            shutil.copyfile(published_path, tmp)
            _fsync_file(tmp)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    _fsync_dir(folder)
    prune_kept(published_path, keep)
    return target.name


def clean_leftovers(published_path: Path) -> list[str]:
    """Delete temp files a crashed publish or rollback left (``.<name>.*.tmp`` and their WAL).

    Call only while holding :func:`publish_lock`: a running publisher's temp file looks the same.
    """
    removed = []
    patterns = [(published_path.parent, published_path.name)]
    patterns.append((kept_dir(published_path), published_path.stem))
    for folder, prefix in patterns:
        if not folder.is_dir():
            continue
        pattern = re.compile(rf"\.{re.escape(prefix)}\..*\.tmp(\.wal)?")
        for entry in folder.iterdir():
            if pattern.fullmatch(entry.name):
                entry.unlink(missing_ok=True)
                removed.append(entry.name)
    return removed


@contextlib.contextmanager
def publish_lock(published_path: Path) -> Iterator[None]:
    """Exclusive lock for whoever replaces ``published_path`` (blocks until free). A folder it
    creates gets no world access (0750)."""
    private_mkdir(published_path.parent)
    lock_path = published_path.parent / f".{published_path.name}.lock"
    with open(lock_path, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def temp_path_for(published_path: Path) -> Path:
    """A fresh temp name beside ``published_path`` (same filesystem, so the rename is atomic)."""
    return published_path.parent / f".{published_path.name}.{uuid.uuid4().hex[:8]}.tmp"


def install_file(tmp: Path, published_path: Path, keep: int = KEEP_PUBLISHED) -> str | None:
    """Make the complete, fsynced ``tmp`` the published file in one rename.

    The current published file is kept first (see :func:`keep_current`). Call while holding
    :func:`publish_lock`.

    Returns:
        The name under which the replaced file was kept, or None.
    """
    _fsync_file(tmp)
    kept = keep_current(published_path, keep)
    # A WAL left by a crashed writer belongs to the old file; replayed onto the new one it
    # would corrupt it, so it goes before the rename.
    published_path.with_name(published_path.name + ".wal").unlink(missing_ok=True)
    os.replace(tmp, published_path)
    _fsync_dir(published_path.parent)
    return kept


def database_fingerprint(path: Path, schemas: tuple[str, ...] | None = None) -> str:
    """A digest of a DuckDB file's contents: every table's name, columns and types, row count
    and the sum of its row hashes (build bookkeeping excluded). Equal for two files with the same
    data whatever their bytes (a published copy in another storage version included); about a
    second for Banten."""
    con = duckdb.connect(config=duckdb_config())
    try:
        con.execute(f"attach '{_sql_path(path)}' as fp (read_only)")
        parts = []
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = 'fp' order by 1, 2"
        ).fetchall()
        for schema, table in tables:
            # Build bookkeeping changes when a run re-checks an unchanged month: no reason to publish.
            if f"{schema}.{table}" in BOOKKEEPING or (schemas is not None and schema not in schemas):
                continue
            cols = con.execute(
                "select string_agg(column_name || ' ' || data_type, ',' order by column_index) from duckdb_columns() "
                "where database_name = 'fp' and schema_name = ? and table_name = ?", [schema, table],
            ).fetchall()[0][0]
            ident = "fp." + ".".join('"' + part.replace('"', '""') + '"' for part in (schema, table))
            n, total = con.execute(f"select count(*), coalesce(sum(hash(t)::hugeint), 0) from {ident} t").fetchall()[0]
            parts.append(f"{schema}.{table}|{cols}|{n}|{total}")
        con.execute("detach fp")
    finally:
        con.close()
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def publish_database(
    work_path: Path, published_path: Path, keep: int | None = None, skip_unchanged: bool = True
) -> dict:
    """Copy ``work_path`` into a fresh file and atomically rename it onto ``published_path``.

    Args:
        work_path: The pipeline's working DuckDB file (only read).
        published_path: The file BI tools open read-only.
        keep: How many replaced files to keep for rollback (None: ``KONVERGENSI_KEEP_PUBLISHED``).
        skip_unchanged: Leave the published file as it is when its contents already equal the
            working database's (see :func:`database_fingerprint`).

    Returns:
        Figures for asset metadata: path, bytes written, seconds taken, the kept file's name
        and the temp files of a crashed earlier publish that were cleaned.
    """
    started = time.perf_counter()
    keep = keep_published() if keep is None else keep
    with publish_lock(published_path):
        cleaned = clean_leftovers(published_path)
        token = _state_token(work_path) if skip_unchanged else None
        if skip_unchanged and published_path.exists():
            # Unchanged when the working database's table versions are those noted when this
            # published file was written (cheap), or else when both contents hash the same.
            same = noted_token(published_path) == token
            if not same:
                work_print = database_fingerprint(work_path, PUBLISHED_SCHEMAS)
                same = work_print == database_fingerprint(published_path, PUBLISHED_SCHEMAS)
                if same:
                    _note_token(published_path, token)
            if same:
                # Nothing changed since the last publish (a quiet night): no copy, no new
                # version, readers keep the file they have.
                return {
                    "published_path": str(published_path),
                    "bytes": published_path.stat().st_size,
                    "seconds": round(time.perf_counter() - started, 3),
                    "kept_as": "",
                    "cleaned_leftovers": len(cleaned),
                    "unchanged": True,
                }
        tmp = temp_path_for(published_path)
        try:
            con = duckdb.connect(config=duckdb_config())
            try:
                con.execute(f"attach '{_sql_path(work_path)}' as src (read_only)")
                con.execute(f"attach '{_sql_path(tmp)}' as pub (storage_version '{PUBLISH_STORAGE_VERSION}')")
                copy_published_tables(con, "src", "pub")
                con.execute("checkpoint pub")
                con.execute("detach pub")
                con.execute("detach src")
            finally:
                con.close()
            os.chmod(tmp, published_mode())
            kept = install_file(tmp, published_path, keep)
            if token is not None:
                _note_token(published_path, token)
        finally:
            for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
                leftover.unlink(missing_ok=True)
    return {
        "published_path": str(published_path),
        "bytes": published_path.stat().st_size,
        "seconds": round(time.perf_counter() - started, 3),
        "kept_as": kept or "",
        "cleaned_leftovers": len(cleaned),
        "unchanged": False,
    }


def _state_token(work_path: Path) -> str:
    con = duckdb.connect(str(work_path), read_only=True, config=duckdb_config())
    try:
        return state_token(con)
    finally:
        con.close()


def _token_note(published_path: Path) -> Path:
    return published_path.parent / f".{published_path.name}.state"


def _note_token(published_path: Path, token: str) -> None:
    """Note the state token (pipelines/sql_engine/build_state.py) of the database just published, with the
    published file's size and mtime."""
    st = published_path.stat()
    _token_note(published_path).write_text(f"{st.st_size} {st.st_mtime_ns} {token}\n")


def noted_token(published_path: Path) -> str | None:
    """The noted token, if the note describes the published file as it is now (a rollback or any
    other replacement changes its size or mtime)."""
    st = published_path.stat()
    try:
        size, mtime, token = _token_note(published_path).read_text().split()
    except (OSError, ValueError):
        return None
    return token if int(size) == st.st_size and int(mtime) == st.st_mtime_ns else None


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
