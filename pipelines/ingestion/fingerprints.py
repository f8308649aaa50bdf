"""Landing-file fingerprints: a file is read and hashed only when its size or mtime changed.

One rule for both consumers, each over its own cache of ``relative path -> (size, mtime_ns,
sha256)``: the landing-folder sensor over its cursor, ingestion over ``raw.landing_fingerprints``.
A file whose size and mtime match its cached entry keeps the cached hash and is not opened; any
other file is read once and hashed with :func:`~pipelines.ingestion.identity.sha256_hex`, and its
bytes go back to the caller so that landing it needs no second read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import pandas as pd

from pipelines.ingestion.identity import sha256_hex

FULL_HASH_CHARS = 64  # sha256 in hex; older sensor cursors kept 16-character prefixes

Cache = Mapping[str, Sequence]  # relative path -> (size, mtime_ns, sha256, ...)


class FileStat(NamedTuple):
    """A landing file as the folder listing shows it (path relative to the landing root)."""

    path: str
    size: int
    mtime_ns: int


class Fingerprint(NamedTuple):
    path: str
    size: int
    mtime_ns: int
    sha256: str


def cached_hash(previous: Cache, stat: FileStat) -> str | None:
    """The cached hash of a file whose size and mtime did not change; None when it must be read
    (new, changed, or cached with a hash shorter than a full sha256)."""
    old = previous.get(stat.path)
    if old and old[0] == stat.size and old[1] == stat.mtime_ns and len(old[2]) == FULL_HASH_CHARS:
        return old[2]
    return None


def fingerprint(stat: FileStat, read: Callable[[], bytes], previous: Cache) -> tuple[Fingerprint, bytes | None]:
    """The file's fingerprint and, when it had to be read, its bytes (None: unchanged, not read)."""
    sha = cached_hash(previous, stat)
    if sha is not None:
        return Fingerprint(*stat, sha), None
    content = read()
    return Fingerprint(*stat, sha256_hex(content)), content


def same_content(old: str, new: str) -> bool:
    """Whether two recorded hashes are of the same bytes; an older 16-character prefix matches
    the full hash it begins."""
    return new == old or (len(old) >= 16 and new.startswith(old))


def load(con) -> dict[str, tuple[int, int, str]]:
    """Ingestion's cache: ``raw.landing_fingerprints``."""
    rows = con.execute("select path, size_bytes, mtime_ns, content_sha256 from raw.landing_fingerprints").fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def remember(con, seen: list[Fingerprint], when: dt.datetime) -> None:
    """Record the fingerprints of landing files read in this run. Written after their
    submissions committed, so a crash costs at most a re-read next time, never a skipped file."""
    if not seen:
        return
    frame = pd.DataFrame([list(fp) for fp in seen], columns=["path", "size_bytes", "mtime_ns", "content_sha256"])
    frame = frame.assign(seen_at=when).drop_duplicates("path", keep="last")
    con.register("_fingerprints", frame)
    try:
        con.execute("begin transaction")
        con.execute("delete from raw.landing_fingerprints where path in (select path from _fingerprints)")
        con.execute("insert into raw.landing_fingerprints by name select * from _fingerprints")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    finally:
        con.unregister("_fingerprints")
