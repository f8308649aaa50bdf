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
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines import tables
from pipelines.ingestion.identity import (
    SubmissionNameError,
    parse_submission_name,
    sha256_hex,
    submission_id,
)
from pipelines.parsing.layouts import STREAMS
from pipelines.parsing.parse import BatchParse
from pipelines.periods import wants

log = logging.getLogger(__name__)



@dataclass
class Incoming:
    """One file offered by a transport; bytes fetched lazily (portal downloads cost)."""

    stream: str
    file_name: str
    transport: str
    received_at: dt.datetime | None
    fetch: Callable[[], bytes]
    sha256: str | None = None
    # Landing files: (relative path, size, mtime_ns). A file whose size and mtime match the
    # last run's is not read again; its recorded hash stands in (a no-op run reads nothing).
    fingerprint: tuple[str, int, int] | None = None


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


def landing_files(root: Path, streams: Iterable[str] = STREAMS) -> Iterator[tuple[str, Path]]:
    """``(stream, path)`` of every file under ``root/<stream>/`` in a stable order; dotfiles are
    uploads in progress and are left alone."""
    for stream in streams:
        folder = root / stream
        if folder.is_dir():
            for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
                yield stream, path


def landing_incoming(root: Path, streams: Iterable[str] = STREAMS) -> Iterator[Incoming]:
    """Landing-folder files as submissions; the mtime is when it was received."""
    for stream, path in landing_files(root, streams):
        st = path.stat()
        received = dt.datetime.fromtimestamp(st.st_mtime, tz=dt.UTC).replace(tzinfo=None)
        fingerprint = (path.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns)
        yield Incoming(stream, path.name, "landing", received, path.read_bytes, fingerprint=fingerprint)


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
    """Append ``df`` to a declared table (pipelines/tables.py), by column name."""
    if df.empty:
        return
    con.register("_incoming_df", df)
    try:
        con.execute(f"insert into {table} by name select * from _incoming_df")
    finally:
        con.unregister("_incoming_df")


SUBMISSION_COLUMNS = (
    "submission_id", "stream", "submitter_level", "submitter_code", "period", "version", "file_name",
    "file_format", "transport", "received_at", "ingested_at", "run_id", "content_sha256", "size_bytes",
    "status", "n_source_rows", "n_rows_accepted", "n_rows_rejected", "error",
)
REJECTED_FILE_COLUMNS = (
    "stream", "submission_id", "file_name", "transport", "reason_code", "detail", "content_sha256", "run_id",
    "rejected_at",
)


def _insert_rows(con, table: str, columns: tuple[str, ...], rows: list[list]) -> None:
    """Insert Python rows through one DataFrame (executemany prepares once per row)."""
    frame = pd.DataFrame(rows, columns=list(columns))
    con.register("_rows", frame)
    try:
        con.execute(f"insert into {table} by name select * from _rows")
    finally:
        con.unregister("_rows")


# Files parsed and landed together: the parser is vectorised across files, and one
# transaction per batch keeps every submission whole (all of it lands, or none of it).
BATCH_FILES = 1000
BATCH_BYTES = 16 * 1024 * 1024


@dataclass
class _Pending:
    inc: Incoming
    content: bytes
    sha: str
    key: object
    sid: str
    name_error: str | None


@dataclass
class _Prepared:
    """What parsing and validating a batch produced (picklable: it may come from a worker)."""

    errors: dict[str, str | None]  # sid -> file error, None when the file was read
    results: dict[str, tuple[int, int, int]]  # sid -> (rows accepted, rows read, rows rejected)
    rows: pd.DataFrame | None  # accepted rows of every file, with submission_id
    rejects: pd.DataFrame | None  # rejected cells of every file, with submission_id
    validation: pd.DataFrame | None


def _joined(result) -> BatchParse:
    return result if isinstance(result, BatchParse) else BatchParse.from_results(list(result))


def _parse_safely(stream: str, todo: list[tuple[str, bytes]], parse_many) -> BatchParse:
    """All files of ``todo`` parsed (``parse_many`` may return a BatchParse or one ParseResult
    per file); a parser crash on the batch falls back to one file at a time so that one bad file
    cannot take the others down with it."""
    if not todo:
        return BatchParse.from_results([])
    try:
        return _joined(parse_many(stream, todo))
    except Exception:  # noqa: BLE001
        log.exception("batch parse failed for %s; retrying file by file", stream)
    parts = []
    for i, item in enumerate(todo):
        try:
            part = _joined(parse_many(stream, [item]))
        except Exception as exc:  # noqa: BLE001 - a parser bug must not lose the submission
            part = BatchParse(pd.DataFrame(), np.zeros(0, "int64"), pd.DataFrame(), np.zeros(0, "int64"),
                              [f"parser_error: {type(exc).__name__}"], [0], [[]])
        parts.append((np.array([i]), part))
    return BatchParse.combine(parts, len(todo))


def _prepare_batch(stream: str, items: list[tuple[str, str, bytes, str | None]], parse_many, validate) -> _Prepared:
    """Parse and validate one batch: pure CPU work, run in a worker process when there is a pool.

    ``items`` are ``(submission_id, file_name, content, name_error)``.
    """
    named = [(sid, name, c) for sid, name, c, err in items if err is None]
    parsed = _parse_safely(stream, [(name, c) for _, name, c in named], parse_many)
    sids = np.array([sid for sid, _, _ in named] or [], dtype=object)
    errors: dict[str, str | None] = {sid: err for sid, _, _, err in items if err is not None}
    n_acc = np.bincount(parsed.row_files, minlength=len(named))
    rejected_rows = (pd.DataFrame({"f": parsed.reject_files, "r": parsed.rejects["row_number"].to_numpy()})
                     .drop_duplicates()["f"].to_numpy(dtype="int64") if len(parsed.rejects) else np.zeros(0, "int64"))
    n_rej = np.bincount(rejected_rows, minlength=len(named))
    results: dict[str, tuple[int, int, int]] = {}
    for f, sid in enumerate(sids.tolist()):
        errors[sid] = parsed.file_errors[f]
        if parsed.file_errors[f] is None:
            results[sid] = (int(n_acc[f]), int(parsed.n_source_rows[f]), int(n_rej[f]))
    errors = {sid: errors[sid] for sid, _, _, _ in items}  # batch order
    rows = rejects = None
    if len(parsed.rows):
        rows = parsed.rows
        rows.insert(0, "submission_id", sids[parsed.row_files])
    if len(parsed.rejects):
        rejects = parsed.rejects.rename(columns={"column": "column_name"})
        rejects.insert(0, "submission_id", sids[parsed.reject_files])
    validation = None
    accepted = [sid for sid, err in errors.items() if err is None]
    if validate is not None and accepted:
        frame = rows if rows is not None else pd.DataFrame({"submission_id": [], "row_number": []})
        validation = validate(stream, frame, accepted)
    return _Prepared(errors, results, rows, rejects, validation)


def land_submissions(
    con,
    incoming: Iterable[Incoming],
    parse_many: Callable[[str, list[tuple[str, bytes]]], list],
    run_id: str,
    months: set[str] | None = None,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None),
    validate: Callable[[str, pd.DataFrame, list[str]], pd.DataFrame] | None = None,
    workers: int = 0,
    before_fork: Callable[[], None] | None = None,
) -> IngestReport:
    """Land every new submission offered; skip the ones already in ``raw.submissions``.

    ``parse_many(stream, [(file_name, content), ...])`` returns one ParseResult (rows, rejects,
    file_error, n_source_rows) per file. ``validate(stream, rows, submission_ids)`` (the Great
    Expectations suites) returns one outcome per submission for ``raw.submission_validation``.
    Errors fetching a submission are recorded and the others continue; the caller decides
    whether a transport failure fails the run.

    With ``workers`` > 0, batches are parsed and validated in that many forked worker processes
    while this process reads files and writes DuckDB (``parse_many`` and ``validate`` must then
    be picklable). Batches still commit one at a time in arrival order, so versions and results
    are the same as without workers. ``before_fork`` runs once before the first worker starts
    (e.g. importing Great Expectations so that workers inherit it); a run with nothing new
    starts no worker and pays for neither.
    """
    tables.ensure_all(con, tables.INGESTION_TABLES)
    known = {r[0] for r in con.execute("select submission_id from raw.submissions").fetchall()}
    known_sha = {
        (r[0], r[1]) for r in con.execute("select stream, content_sha256 from raw.submissions").fetchall()
    }
    # Accepted versions so far per (stream, submitter, period): the next one is +1.
    versions = {
        (r[0], r[1], r[2]): r[3]
        for r in con.execute(
            "select stream, submitter_code, period, count(*) from raw.submissions "
            "where status = 'accepted' group by all"
        ).fetchall()
    }
    cached = {
        r[0]: (r[1], r[2], r[3])
        for r in con.execute("select path, size_bytes, mtime_ns, content_sha256 from raw.landing_fingerprints").fetchall()
    }
    seen: list[list] = []
    report = IngestReport()
    pending: list[_Pending] = []
    pending_bytes = 0
    in_flight: deque = deque()
    pool: _Pool | None = None

    def commit_oldest() -> None:
        batch, job = in_flight.popleft()
        prepared = job.result() if isinstance(job, _Fallback) else job
        _commit_batch(con, batch, prepared, run_id, now(), report, versions)

    def flush() -> None:
        nonlocal pending_bytes, pool
        if not pending:
            return
        if workers > 0 and pool is None:
            if before_fork is not None:
                before_fork()
            pool = _Pool(workers, parse_many, validate)
        batch = list(pending)
        pending.clear()
        pending_bytes = 0
        stream = batch[0].inc.stream
        items = [(p.sid, p.inc.file_name, p.content, p.name_error) for p in batch]
        if pool is None:
            in_flight.append((batch, _prepare_batch(stream, items, parse_many, validate)))
        else:
            in_flight.append((batch, pool.submit(stream, items)))
        while len(in_flight) > (workers if pool is not None else 0):
            commit_oldest()

    try:
        for inc in incoming:
            # A partitioned run lands only the submissions whose period covers its months; the
            # name tells the period, so the others are not even downloaded.
            if months is not None:
                try:
                    named = parse_submission_name(inc.stream, inc.file_name)
                except SubmissionNameError:
                    named = None
                if named is not None and not wants(named.period, months):
                    continue
            if pending and (inc.stream != pending[0].inc.stream or len(pending) >= BATCH_FILES
                            or pending_bytes >= BATCH_BYTES):
                flush()
            if inc.fingerprint is not None and inc.sha256 is None:
                hit = cached.get(inc.fingerprint[0])
                if hit and hit[:2] == inc.fingerprint[1:]:
                    inc.sha256 = hit[2]
            if inc.sha256 and (inc.stream, inc.sha256) in known_sha:
                # Portal items carry their hash: an identical file already landed (on either
                # transport) needs no download at all.
                _, sid, _ = _identity(inc, inc.sha256)
                if sid in known:
                    report.skipped_known += 1
                    continue
            try:
                content = inc.fetch()
            except Exception as exc:  # noqa: BLE001 - recorded; the caller fails the run after the rest landed
                report.errors.append(f"{inc.transport}:{inc.stream}/{inc.file_name}: {exc}")
                continue
            sha = sha256_hex(content)
            if inc.fingerprint is not None:
                seen.append([*inc.fingerprint, sha])
            key, sid, name_error = _identity(inc, sha)
            if sid in known:
                report.skipped_known += 1
                continue
            pending.append(_Pending(inc, content, sha, key, sid, name_error))
            pending_bytes += len(content)
            known.add(sid)
            known_sha.add((inc.stream, sha))
        flush()
        while in_flight:
            commit_oldest()
        _remember_fingerprints(con, seen, now())
    finally:
        if pool is not None:
            pool.close()
    return report


def _remember_fingerprints(con, seen: list[list], when: dt.datetime) -> None:
    """Record (path, size, mtime, sha) of landing files read in this run. Written after their
    submissions committed, so a crash costs at most a re-read next time, never a skipped file."""
    if not seen:
        return
    frame = pd.DataFrame(seen, columns=["path", "size_bytes", "mtime_ns", "content_sha256"]).assign(seen_at=when)
    frame = frame.drop_duplicates("path", keep="last")
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


class _Pool:
    """Forked worker processes for :func:`_prepare_batch`. Fork (not spawn) so workers start in
    milliseconds with the parent's imports (Great Expectations takes seconds to import); they
    never touch DuckDB. A broken worker falls back to preparing the batch in this process.

    ``parse_many`` and ``validate`` reach the workers once, through the fork (a national region
    index pickled with every batch cost more than parsing some of them); a task carries only its
    files."""

    def __init__(self, workers: int, parse_many, validate) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self._parse_many, self._validate = parse_many, validate
        self._executor = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("fork"),
            initializer=_init_worker, initargs=(parse_many, validate),
        )

    def submit(self, stream, items):
        future = self._executor.submit(_prepare_in_worker, stream, items)
        return _Fallback(future, stream, items, self._parse_many, self._validate)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


_WORKER_FUNCTIONS: tuple | None = None


def _init_worker(parse_many, validate) -> None:
    global _WORKER_FUNCTIONS
    _WORKER_FUNCTIONS = (parse_many, validate)


def _prepare_in_worker(stream: str, items: list) -> _Prepared:
    parse_many, validate = _WORKER_FUNCTIONS
    return _prepare_batch(stream, items, parse_many, validate)


@dataclass
class _Fallback:
    future: object
    stream: str
    items: list
    parse_many: object
    validate: object

    def result(self) -> _Prepared:
        from concurrent.futures.process import BrokenProcessPool

        try:
            return self.future.result()
        except BrokenProcessPool:
            log.warning("a parser worker died; preparing %d %s files in the main process", len(self.items),
                        self.stream)
            return _prepare_batch(self.stream, self.items, self.parse_many, self.validate)


def _commit_batch(
    con, batch: list[_Pending], prepared: _Prepared, run_id: str, now: dt.datetime, report, versions
) -> None:
    stream = batch[0].inc.stream
    file_rejects, meta = [], []
    for p in batch:
        error = prepared.errors[p.sid]
        version = None
        n_acc = n_rej = n_src = 0
        if error is None:
            n_acc, n_src, n_rej = prepared.results[p.sid]
            k = (stream, p.key.submitter_code, p.key.period)
            versions[k] = version = versions.get(k, 0) + 1
            report.rows_accepted += n_acc
            report.rows_rejected += n_rej
            report.add(stream, "submissions")
            report.add(stream, "rows_accepted", n_acc)
            report.add(stream, "rows_rejected", n_rej)
            report.landed += 1
        else:
            reason = "bad_file_name" if p.name_error else (error.split(":", 1)[0] if ":" in error else "rejected_file")
            file_rejects.append([stream, p.sid, p.inc.file_name, p.inc.transport, reason, error, p.sha, run_id, now])
            report.rejected_files += 1
            report.add(stream, "files_rejected")
        k = p.key
        meta.append([
            p.sid, stream, k.submitter_level if k else None, k.submitter_code if k else None,
            k.period if k else None, version, p.inc.file_name, k.file_format if k else None,
            p.inc.transport, p.inc.received_at, now, run_id, p.sha, len(p.content),
            "accepted" if error is None else "rejected_file", n_src, n_acc, n_rej, error,
        ])
    validation = rejects = None
    if prepared.validation is not None and len(prepared.validation):
        validation = prepared.validation.assign(run_id=run_id, validated_at=now)
    if prepared.rejects is not None and len(prepared.rejects):
        names = {p.sid: p.inc.file_name for p in batch}
        rejects = prepared.rejects.assign(
            stream=stream, file_name=prepared.rejects["submission_id"].map(names), run_id=run_id, rejected_at=now)
    con.execute("begin transaction")
    try:
        if prepared.rows is not None:
            _insert_df(con, f"raw.{stream}", prepared.rows)
        if validation is not None:
            _insert_df(con, "raw.submission_validation", validation)
        if rejects is not None:
            _insert_df(con, "quarantine.rejected_rows", rejects)
        if file_rejects:
            _insert_rows(con, "quarantine.rejected_files", REJECTED_FILE_COLUMNS, file_rejects)
        _insert_rows(con, "raw.submissions", SUBMISSION_COLUMNS, meta)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
