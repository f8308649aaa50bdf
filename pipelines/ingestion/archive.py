"""Landing retention: move a landed file out of the way once its rows are committed.

With ``KONVERGENSI_LANDING_ARCHIVE=archive`` a landing file is moved, by one ``os.rename`` inside
the landing folder's filesystem, to ``<landing>/_archive/<YYYY-MM>/<stream>/<path in the stream
folder>`` (``YYYY-MM``: the month, UTC, it was archived), once:

* its fingerprint in ``raw.landing_fingerprints`` still describes it (same size and mtime), which
  is written only after its submission committed; and
* an **accepted** submission of its stream holds that content (``raw.submissions.content_sha256``):
  it landed this run, or earlier under any name or transport.

Everything else stays where it is: a refused file (so the operator sees it and fixes it), a file
still being written, a file left for a run covering its period, a file not read yet. The archive is
not a stream folder, so neither the landing listing nor the sensor ever sees it; a file re-dropped
with the same bytes is known by its content hash (the ledger) and archived again without landing
twice. A rename that fails (another filesystem, permissions) leaves the file in place and is
logged: the next run tries again. Pure: DuckDB and the filesystem, no Dagster.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import stat
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from pipelines.ingestion.fingerprints import FileStat

log = logging.getLogger(__name__)

ARCHIVE_DIR = "_archive"

SETTLED_SQL = """
select listed.path
from _listed as listed
inner join raw.landing_fingerprints as fp
    on fp.path = listed.path and fp.size_bytes = listed.size and fp.mtime_ns = listed.mtime_ns
where exists (
    select 1 from raw.submissions as s
    where s.status = 'accepted' and s.stream = split_part(listed.path, '/', 1)
        and s.content_sha256 = fp.content_sha256
)
order by listed.path
"""


def settled(con, listed: Iterable[FileStat]) -> list[str]:
    """Paths (relative to the landing root) of listed files whose content an accepted submission
    of their stream holds, as their recorded fingerprint says."""
    frame = pd.DataFrame([tuple(s) for s in listed], columns=["path", "size", "mtime_ns"]).drop_duplicates("path")
    if frame.empty:
        return []
    con.register("_listed", frame)
    try:
        return [path for (path,) in con.execute(SETTLED_SQL).fetchall()]
    finally:
        con.unregister("_listed")


def archive_path(root: Path, relative: str, when: dt.datetime) -> Path:
    """Where ``<root>/<relative>`` goes: ``<root>/_archive/<YYYY-MM>/<relative>``; a free name
    (``name.1.csv``, ``name.2.csv``, …) when that one is taken (the same name dropped twice)."""
    target = root / ARCHIVE_DIR / f"{when:%Y-%m}" / relative
    n = 0
    candidate = target
    while candidate.exists() or candidate.is_symlink():
        n += 1
        candidate = target.with_name(f"{target.stem}.{n}{target.suffix}")
    return candidate


def archive_landed(con, root: Path, listed: Iterable[FileStat], when: dt.datetime) -> list[str]:
    """Move every settled listed file into the archive; return the paths moved (relative)."""
    by_path = {item.path: item for item in listed}
    moved = []
    for relative in settled(con, by_path.values()):
        source, item = root / relative, by_path[relative]
        try:
            st = source.lstat()
            if not stat.S_ISREG(st.st_mode) or (st.st_size, st.st_mtime_ns) != (item.size, item.mtime_ns):
                continue  # replaced since it was fingerprinted: the next run reads it
            target = archive_path(root, relative, when)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(source, target)  # atomic within one filesystem; never a copy
        except FileNotFoundError:
            continue  # removed meanwhile
        except OSError as exc:
            log.warning("left in place, not archived: %s (%s)", relative, exc)
            continue
        moved.append(relative)
    if moved:
        log.info("archived %d landed file(s) under %s", len(moved), root / ARCHIVE_DIR / f"{when:%Y-%m}")
    return moved
