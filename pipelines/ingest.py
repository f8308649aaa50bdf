"""Landing submissions in ``raw``: discovery on both transports, parsing, quarantine, lineage.

Pure Python + DuckDB (no Dagster): the ingestion asset is a thin wrapper around
:func:`land_submissions`. Each submission lands in one transaction — its metadata row in
``raw.submissions``, its accepted rows in ``raw.<stream>``, its rejects in
``quarantine.rejected_rows`` (or the whole file in ``quarantine.rejected_files``) — so a crash or a
failed download never leaves half a submission behind. Submission ids derive from stream,
submitter, period and content hash, so re-delivering the same bytes on either transport is a
no-op, and a corrected file becomes the next version.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipelines.sources.layouts import PERIOD_GRAIN, STREAMS
from pipelines.sources.submission import (
    SubmissionNameError,
    parse_submission_name,
    sha256_hex,
    submission_id,
)

log = logging.getLogger(__name__)

DDL = """
create table if not exists raw.submissions (
    submission_id varchar primary key,
    stream varchar not null,
    submitter_level varchar,
    submitter_code varchar,
    period varchar,
    version integer,
    file_name varchar not null,
    file_format varchar,
    transport varchar not null,
    received_at timestamp,
    ingested_at timestamp not null,
    run_id varchar,
    content_sha256 varchar not null,
    size_bytes bigint,
    status varchar not null,
    n_source_rows integer,
    n_rows_accepted integer,
    n_rows_rejected integer,
    error varchar
);
create table if not exists quarantine.rejected_rows (
    stream varchar not null,
    submission_id varchar not null,
    file_name varchar,
    row_number integer,
    column_name varchar,
    reason_code varchar not null,
    detail varchar,
    payload varchar,
    run_id varchar,
    rejected_at timestamp
);
create table if not exists quarantine.rejected_files (
    stream varchar not null,
    submission_id varchar not null,
    file_name varchar,
    transport varchar,
    reason_code varchar not null,
    detail varchar,
    content_sha256 varchar,
    run_id varchar,
    rejected_at timestamp
);
"""


@dataclass
class Incoming:
    """One file offered by a transport; bytes fetched lazily (portal downloads cost)."""

    stream: str
    file_name: str
    transport: str
    received_at: dt.datetime | None
    fetch: Callable[[], bytes]
    sha256: str | None = None
    key_error: str | None = None


@dataclass
class IngestReport:
    landed: int = 0
    skipped_known: int = 0
    rejected_files: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    by_stream: dict[str, dict[str, int]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def add(self, stream: str, key: str, n: int = 1) -> None:
        counts = self.by_stream.setdefault(
            stream, {"submissions": 0, "rows_accepted": 0, "rows_rejected": 0, "files_rejected": 0}
        )
        counts[key] += n


def period_matches(stream: str, period: str | None, wanted: str | None) -> bool:
    """Whether a submission's period falls in the run's month (``YYYY-MM``): the month itself
    for monthly streams, its quarter for quarterly ones, its year for yearly ones."""
    if not wanted or period is None:
        return True
    year, month = wanted.split("-")
    grain = PERIOD_GRAIN[stream]
    if grain == "month":
        return period == wanted
    if grain == "quarter":
        return period == f"{year}-Q{(int(month) - 1) // 3 + 1}"
    return period == year


def landing_incoming(root: Path, streams: Iterable[str] = STREAMS) -> Iterator[Incoming]:
    """Files under ``root/<stream>/`` in a stable order; the mtime is when it was received."""
    for stream in streams:
        folder = root / stream
        if not folder.is_dir():
            continue
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
            received = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC).replace(tzinfo=None)
            yield Incoming(stream, path.name, "landing", received, path.read_bytes)


def portal_incoming(client, streams: Iterable[str] = STREAMS, updated_since: str | None = None) -> Iterator[Incoming]:
    for stream in streams:
        for item in client.list_submissions(stream=stream, updated_since=updated_since):
            received = None
            if item.get("updated_at"):
                received = dt.datetime.fromisoformat(item["updated_at"].replace("Z", "+00:00"))
                received = received.astimezone(dt.UTC).replace(tzinfo=None)
            yield Incoming(
                stream,
                item["file_name"],
                "portal",
                received,
                (lambda it=item: client.download(it)),
                sha256=item.get("sha256"),
            )


def _identity(inc: Incoming, sha: str):
    try:
        key = parse_submission_name(inc.stream, inc.file_name)
        return key, submission_id(inc.stream, key.submitter_code, key.period, sha), None
    except SubmissionNameError as exc:
        digest = hashlib.sha256(f"{inc.stream}|{inc.file_name}|{sha}".encode()).hexdigest()
        return None, f"{inc.stream[:3]}-x{digest[:19]}", str(exc)


def _insert_df(con, table: str, df: pd.DataFrame) -> None:
    if df.empty:
        return
    con.register("_incoming_df", df)
    try:
        exists = con.execute(
            "select count(*) from information_schema.tables where table_schema || '.' || table_name = ?",
            [table],
        ).fetchone()[0]
        if not exists:
            con.execute(f"create table {table} as select * from _incoming_df")
        else:
            con.execute(f"insert into {table} by name select * from _incoming_df")
    finally:
        con.unregister("_incoming_df")


def land_submissions(
    con,
    incoming: Iterable[Incoming],
    parse: Callable[[str, bytes, str], object],
    run_id: str,
    period: str | None = None,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None),
) -> IngestReport:
    """Land every new submission offered; skip the ones already in ``raw.submissions``.

    ``parse(stream, content, file_name)`` returns a ParseResult (rows, rejects, file_error,
    n_source_rows). Errors fetching one submission are recorded and the others continue; the
    caller decides whether a transport failure fails the run.
    """
    con.execute(DDL)
    known = {r[0] for r in con.execute("select submission_id from raw.submissions").fetchall()}
    known_sha = {
        (r[0], r[1]) for r in con.execute("select stream, content_sha256 from raw.submissions").fetchall()
    }
    report = IngestReport()
    for inc in incoming:
        if inc.sha256 and (inc.stream, inc.sha256) in known_sha:
            # Portal items carry their hash: an identical file already landed (on either
            # transport) needs no download at all.
            key, sid, _ = _identity(inc, inc.sha256)
            if sid in known:
                report.skipped_known += 1
                continue
        try:
            content = inc.fetch()
        except Exception as exc:  # noqa: BLE001 - recorded and re-raised by the caller's policy
            report.errors.append(f"{inc.transport}:{inc.stream}/{inc.file_name}: {exc}")
            continue
        sha = sha256_hex(content)
        key, sid, name_error = _identity(inc, sha)
        if sid in known:
            report.skipped_known += 1
            continue
        if key is not None and not period_matches(inc.stream, key.period, period):
            continue
        _land_one(con, inc, content, sha, key, sid, name_error, parse, run_id, now(), report)
        known.add(sid)
        known_sha.add((inc.stream, sha))
    return report


def _land_one(con, inc, content, sha, key, sid, name_error, parse, run_id, now, report) -> None:
    result = None
    error = name_error
    if error is None:
        try:
            result = parse(inc.stream, content, inc.file_name)
            error = result.file_error
        except Exception as exc:  # noqa: BLE001 - a parser bug must not lose the submission
            error = f"parser_error: {type(exc).__name__}: {exc}"
            log.exception("parser failed on %s/%s", inc.stream, inc.file_name)
    con.execute("begin transaction")
    try:
        version = None
        if key is not None and error is None:
            version = 1 + con.execute(
                "select count(*) from raw.submissions where stream = ? and submitter_code = ? "
                "and period = ? and status = 'accepted'",
                [inc.stream, key.submitter_code, key.period],
            ).fetchone()[0]
        n_acc = n_rej = n_src = 0
        if error is None:
            rows = result.rows.copy()
            rows.insert(0, "submission_id", sid)
            _insert_df(con, f"raw.{inc.stream}", rows)
            rej = result.rejects
            n_acc = len(rows)
            n_rej = int(rej["row_number"].nunique()) if len(rej) else 0
            n_src = int(result.n_source_rows)
            if len(rej):
                rej = rej.rename(columns={"column": "column_name"})
                rej = rej.assign(
                    stream=inc.stream, submission_id=sid, file_name=inc.file_name, run_id=run_id, rejected_at=now
                )
                _insert_df(con, "quarantine.rejected_rows", rej)
            report.rows_accepted += n_acc
            report.rows_rejected += n_rej
            report.add(inc.stream, "submissions")
            report.add(inc.stream, "rows_accepted", n_acc)
            report.add(inc.stream, "rows_rejected", n_rej)
            report.landed += 1
        else:
            reason = error.split(":", 1)[0] if ":" in error else "rejected_file"
            if name_error is not None:
                reason = "bad_file_name"
            con.execute(
                "insert into quarantine.rejected_files values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [inc.stream, sid, inc.file_name, inc.transport, reason, error, sha, run_id, now],
            )
            report.rejected_files += 1
            report.add(inc.stream, "files_rejected")
        con.execute(
            "insert into raw.submissions values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                sid, inc.stream,
                key.submitter_level if key else None, key.submitter_code if key else None,
                key.period if key else None, version, inc.file_name,
                key.file_format if key else None, inc.transport, inc.received_at, now, run_id, sha,
                len(content), "accepted" if error is None else "rejected_file",
                n_src, n_acc, n_rej, error,
            ],
        )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
