"""Committing one prepared batch: one transaction writes its rows, rejected rows and values,
parser warnings, validation outcomes and one ``raw.submissions`` row per file, so a crash never
leaves half a submission behind.

:class:`Ledger` is what ``raw.submissions`` already holds (ids, content hashes, accepted versions
per stream, submitter and period): a corrected file becomes the next version, whatever its name,
once its key (from its name, the portal's listing or its rows) is known.

A file identified from its rows lands only in a run whose months cover the period they told; in
any other run it is *deferred*: nothing of it is written, and it is read again by the next run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple

import pandas as pd

from pipelines.ingestion.batches import Counts, Pending, Prepared
from pipelines.ingestion.incoming import Incoming
from pipelines.ingestion.report import IngestReport
from pipelines.periods import wants

SUBMISSION_COLUMNS = (
    "submission_id", "stream", "submitter_level", "submitter_code", "period", "version", "file_name",
    "file_format", "transport", "received_at", "ingested_at", "run_id", "content_sha256", "size_bytes",
    "status", "n_source_rows", "n_rows_accepted", "n_rows_rejected", "error", "n_values_nulled", "n_nik_untrusted",
)
REJECTED_FILE_COLUMNS = (
    "stream", "submission_id", "file_name", "transport", "reason_code", "detail", "content_sha256", "run_id",
    "rejected_at",
)


@dataclass
class Ledger:
    """Submissions landed so far (this run's included, from when they are fetched)."""

    ids: set[str]
    hashes: set[tuple[str, str]]  # (stream, content sha256)
    versions: dict[tuple[str, str, str], int]  # (stream, submitter, period) -> accepted versions
    # (stream, sha256) of content that landed or was refused for itself: an unnamed file with it is
    # not read again. A refusal for the file's name alone (bad_file_name, from before names stopped
    # being required) does not count: that content is read once more under its rows' identity.
    settled: set[tuple[str, str]]

    @classmethod
    def load(cls, con) -> Ledger:
        ids = {r[0] for r in con.execute("select submission_id from raw.submissions").fetchall()}
        hashes = {(r[0], r[1]) for r in con.execute("select stream, content_sha256 from raw.submissions").fetchall()}
        settled = {(r[0], r[1]) for r in con.execute(
            "select stream, content_sha256 from raw.submissions where submission_id not in "
            "(select submission_id from quarantine.rejected_files where reason_code = 'bad_file_name')").fetchall()}
        versions = {
            (r[0], r[1], r[2]): r[3]
            for r in con.execute(
                "select stream, submitter_code, period, count(*) from raw.submissions "
                "where status = 'accepted' group by all"
            ).fetchall()
        }
        return cls(ids, hashes, versions, settled)

    def landed(self, stream: str, sha: str, sid: str | None) -> bool:
        """Whether this content already landed: under ``sid``, or for an unnamed file (``sid``
        None) under any id of the stream."""
        if sid is None:
            return (stream, sha) in self.settled
        return (stream, sha) in self.hashes and sid in self.ids

    def holds(self, inc, sha: str | None) -> bool:
        """Whether the content ``sha`` of the incoming file ``inc`` already landed (under the id its
        name gives, or, unnamed, under any id of its stream); False when the hash is not known."""
        return bool(sha) and self.landed(inc.stream, sha, inc.submission_id(sha))

    def add(self, stream: str, sha: str, sid: str | None) -> None:
        if sid is not None:
            self.ids.add(sid)
        self.hashes.add((stream, sha))
        self.settled.add((stream, sha))

    def next_version(self, stream: str, submitter: str, period: str) -> int:
        k = (stream, submitter, period)
        self.versions[k] = self.versions.get(k, 0) + 1
        return self.versions[k]


class Refusal(NamedTuple):
    """A file refused unread (:class:`~pipelines.ingestion.unread.Refused`), to record."""

    inc: Incoming
    sid: str
    sha: str  # a stand-in: the bytes were never read (unread.unread_sha256)
    reason: str
    detail: str
    size: int


def commit_refusals(con, refused: list[Refusal], run_id: str, now: dt.datetime, report: IngestReport) -> None:
    """Record files refused unread, in one transaction: a ``quarantine.rejected_files`` row with
    the reason, and a ``raw.submissions`` row (status ``rejected_file``, no rows read) each."""
    if not refused:
        return
    file_rejects, meta = [], []
    for r in refused:
        inc, k = r.inc, r.inc.key
        error = f"{r.reason}: {r.detail}"
        file_rejects.append([inc.stream, r.sid, inc.file_name, inc.transport, r.reason, error, r.sha, run_id, now])
        meta.append([
            r.sid, inc.stream, k.submitter_level if k else None, k.submitter_code if k else None,
            k.period if k else None, None, inc.file_name, k.file_format if k else None, inc.transport,
            inc.received_at, now, run_id, r.sha, r.size, "rejected_file", 0, 0, 0, error, None, None,
        ])
        report.rejected_files += 1
        report.add(inc.stream, "files_rejected")
    _write(con, refused[0].inc.stream, None, None, {}, file_rejects, meta)


def _insert_df(con, table: str, df) -> None:
    """Append ``df`` (a pandas frame or an Arrow table) to a declared table (pipelines/tables.py), by
    column name."""
    if not len(df):
        return
    con.register("_incoming_df", df)
    try:
        con.execute(f"insert into {table} by name select * from _incoming_df")
    finally:
        con.unregister("_incoming_df")


def _insert_rows(con, table: str, columns: tuple[str, ...], rows: list[list]) -> None:
    """Insert Python rows through one DataFrame (executemany prepares once per row)."""
    frame = pd.DataFrame(rows, columns=list(columns))
    con.register("_rows", frame)
    try:
        con.execute(f"insert into {table} by name select * from _rows")
    finally:
        con.unregister("_rows")


def _outcome(p: Pending, sid: str, k, prepared: Prepared, run_id: str, now: dt.datetime, report: IngestReport,
             ledger: Ledger) -> tuple[list, list | None]:
    """One file's ``raw.submissions`` row, and its ``quarantine.rejected_files`` row when the
    whole file was rejected; counts it in ``report`` and numbers its version."""
    stream, error = p.inc.stream, prepared.errors[sid]
    version, file_reject = None, None
    counts = Counts(0, 0, 0)
    if error is None:
        counts = prepared.results[sid]
        version = ledger.next_version(stream, k.submitter_code, k.period)
        report.count(stream, counts)
    else:
        reason = "bad_file_name" if p.inc.name_error else (error.split(":", 1)[0] if ":" in error else "rejected_file")
        file_reject = [stream, sid, p.inc.file_name, p.inc.transport, reason, error, p.sha, run_id, now]
        report.rejected_files += 1
        report.add(stream, "files_rejected")
    meta = [
        sid, stream, k.submitter_level if k else None, k.submitter_code if k else None,
        k.period if k else None, version, p.inc.file_name, k.file_format if k else None,
        p.inc.transport, p.inc.received_at, now, run_id, p.sha, len(p.content),
        "accepted" if error is None else "rejected_file", counts.read, counts.accepted, counts.rejected, error,
        counts.values_nulled if error is None else None, counts.nik_untrusted if error is None else None,
    ]
    return meta, file_reject


def _held_back(batch: list[Pending], prepared: Prepared, months: set[str] | None, report: IngestReport,
               ledger: Ledger) -> list[int]:
    """Positions of the files not to write now: an unnamed file whose rows told a period outside
    the run's months (deferred to a run that covers it), or whose id already landed."""
    held = []
    for i, (p, key) in enumerate(zip(batch, prepared.keys, strict=True)):
        if key is not None and not wants(key.period, months):
            report.deferred.append(f"{p.inc.stream}/{p.inc.file_name} ({key.submitter_code}, {key.period})")
            held.append(i)
        elif p.sid is None and prepared.sids[i] in ledger.ids:
            report.skipped_known += 1
            held.append(i)
    return held


def _only(frame, sids: set[str]):
    """The rows of ``frame`` (a pandas frame, or an Arrow table of spooled rows) from ``sids``."""
    if frame is None or not len(frame):
        return frame
    if isinstance(frame, pd.DataFrame):
        return frame[frame["submission_id"].isin(sids)]
    import pyarrow as pa
    import pyarrow.compute as pc

    return frame.filter(pc.is_in(frame["submission_id"], value_set=pa.array(sorted(sids), frame["submission_id"].type)))


def commit_batch(con, batch: list[Pending], prepared: Prepared, run_id: str, now: dt.datetime,
                 report: IngestReport, ledger: Ledger, months: set[str] | None = None) -> list[Pending]:
    """Write one prepared batch in one transaction (rolled back whole on any error); returns the
    files held back (:func:`_held_back`), which leave no trace."""
    stream = batch[0].inc.stream
    held = _held_back(batch, prepared, months, report, ledger)
    todo = [i for i in range(len(batch)) if i not in held]
    outcomes = [_outcome(batch[i], prepared.sids[i], batch[i].inc.key or prepared.keys[i], prepared, run_id, now,
                         report, ledger) for i in todo]
    ledger.ids.update(prepared.sids[i] for i in todo)
    keep = {prepared.sids[i] for i in todo}
    # Every frame of a prepared batch holds rows of its own files only: with none held back, there
    # is nothing to filter (a national month's 250k files: ~12 s of the single writer's CPU).
    only = _only if held else (lambda frame, _keep: frame)
    validation = only(prepared.validation, keep)
    if validation is not None and len(validation):
        validation = validation.assign(run_id=run_id, validated_at=now)
    names = {prepared.sids[i]: batch[i].inc.file_name for i in todo}

    def of_files(frame: pd.DataFrame | None, stamp: str) -> pd.DataFrame | None:
        frame = only(frame, keep)
        if frame is None or not len(frame):
            return None
        return frame.assign(stream=stream, file_name=frame["submission_id"].map(names), run_id=run_id, **{stamp: now})

    found = {"quarantine.rejected_rows": of_files(prepared.rejects, "rejected_at"),
             "quarantine.rejected_values": of_files(prepared.nulled, "rejected_at"),
             "raw.submission_warnings": of_files(prepared.warnings, "warned_at")}
    rows = only(prepared.rows, keep)
    _write(con, stream, rows, validation, found, [r for _, r in outcomes if r is not None], [m for m, _ in outcomes])
    return [batch[i] for i in held]


def _write(con, stream: str, rows, validation, found: dict, file_rejects: list, meta: list) -> None:
    con.execute("begin transaction")
    try:
        if rows is not None:
            _insert_df(con, f"raw.{stream}", rows)
        if validation is not None:
            _insert_df(con, "raw.submission_validation", validation)
        for table, frame in found.items():
            if frame is not None:
                _insert_df(con, table, frame)
        if file_rejects:
            _insert_rows(con, "quarantine.rejected_files", REJECTED_FILE_COLUMNS, file_rejects)
        if meta:
            _insert_rows(con, "raw.submissions", SUBMISSION_COLUMNS, meta)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
