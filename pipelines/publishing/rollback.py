"""Putting a kept warehouse file back as the published one (pure filesystem + DuckDB, no Dagster).

Every publish keeps the file it replaces (see :mod:`pipelines.publishing.publish`). A rollback copies a
kept file to a temp name beside the published file, checks that it opens, and installs it through
the same fsync + rename path as a publish. The file it replaces is itself kept first, so running
``rollback`` again (without ``--to``) undoes it: "rollback" means "back to the file published just
before the current one". To go further back, name the version (``--to``).
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.publishing.publish import (
    KeptVersion,
    clean_leftovers,
    install_file,
    list_kept,
    publish_lock,
    temp_path_for,
)
from pipelines.settings import keep_published


class RollbackError(RuntimeError):
    """Nothing to roll back to, or the named version does not exist or does not open."""


@dataclass(frozen=True)
class RollbackResult:
    """What a rollback did."""

    restored: str
    kept_as: str | None
    published_path: Path


def choose_version(published_path: Path, to: str | None = None) -> KeptVersion:
    """The kept version a rollback would restore: the named one, or else the newest.

    Raises:
        RollbackError: Nothing is kept, or no kept version has that name.
    """
    kept = list_kept(published_path)
    if not kept:
        raise RollbackError(
            f"no kept versions of {published_path.name} in {published_path.parent / 'published'}: "
            "nothing to roll back to (versions are kept from the second publish on)"
        )
    if to is None:
        return kept[0]
    for version in kept:
        if to in (version.name, version.path.stem):
            return version
    names = ", ".join(version.name for version in kept)
    raise RollbackError(f"no kept version named {to!r}; kept: {names}")


def rollback(published_path: Path, to: str | None = None, keep: int | None = None) -> RollbackResult:
    """Atomically make a kept version the published file again.

    Args:
        published_path: The file BI tools read.
        to: A kept version's file name (or name without ``.duckdb``); None = the newest kept.
        keep: How many replaced files to keep (the file being replaced is kept too); None:
            ``KONVERGENSI_KEEP_PUBLISHED``.

    Returns:
        The restored name and the name under which the replaced file was kept.

    Raises:
        RollbackError: Nothing is kept, the name is unknown, or the kept file does not open.
    """
    keep = keep_published() if keep is None else keep
    with publish_lock(published_path):
        clean_leftovers(published_path)
        version = choose_version(published_path, to)
        tmp = temp_path_for(published_path)
        try:
            # A copy, not a link: the published file must not share an inode with the kept one,
            # or a read-write open of the published file would change history.
            shutil.copyfile(version.path, tmp)
            _check_opens(tmp, version.name)
            kept_as = install_file(tmp, published_path, keep)
        finally:
            for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
                leftover.unlink(missing_ok=True)
    return RollbackResult(version.name, kept_as, published_path)


def format_versions(published_path: Path) -> str:
    """Kept versions as a table (name, kept at, size), newest first, for the command line."""
    kept = list_kept(published_path)
    if not kept:
        return f"no kept versions of {published_path.name} (nothing to roll back to)"
    lines = [f"{'name':<48} {'kept at (UTC)':<26} {'size':>12}"]
    for version in kept:
        when = version.kept_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        lines.append(f"{version.name:<48} {when:<26} {_human_size(version.size):>12}")
    return "\n".join(lines)


def _check_opens(path: Path, name: str) -> None:
    try:
        con = duckdb.connect(str(path), read_only=True)
        try:
            con.execute("select count(*) from duckdb_tables()").fetchall()
        finally:
            con.close()
    except duckdb.Error as exc:
        raise RollbackError(f"kept version {name} does not open as a DuckDB database: {exc}") from exc


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
