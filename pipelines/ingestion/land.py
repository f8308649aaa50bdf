"""Landing submissions in ``raw``: the steps, in order, for the files one transport offers.

Pure Python + DuckDB (no Dagster): the ingestion asset calls :mod:`pipelines.ingestion.pull`,
which calls :func:`land_submissions` per transport. Each submission lands in one transaction —
its metadata row in ``raw.submissions``, its accepted rows in ``raw.<stream>``, its rejected rows in
``quarantine.rejected_rows`` and nulled values in ``quarantine.rejected_values`` (or the whole file
in ``quarantine.rejected_files``), the parser's warnings in ``raw.submission_warnings`` — so a crash or
a failed download never leaves half a submission behind. Submission ids derive from stream,
submitter, period and content hash, so re-delivering the same bytes on either transport is a
no-op, and a corrected file becomes the next version. A file whose name tells neither submitter
nor period is parsed first and identified from its rows (docs/ingestion.md); the same bytes
already landed for its stream under any name are skipped before parsing.

The steps: what is offered (:mod:`~pipelines.ingestion.incoming`), which files changed
(:mod:`~pipelines.ingestion.fingerprints`), which are new (:class:`~pipelines.ingestion.commit.Ledger`),
batches parsed and validated (:mod:`~pipelines.ingestion.batches`, in worker processes:
:mod:`~pipelines.ingestion.workers`), each committed whole (:mod:`~pipelines.ingestion.commit`).
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Iterator

import pandas as pd

from pipelines import tables
from pipelines.ingestion import fingerprints
from pipelines.ingestion.batches import Batcher, Pending
from pipelines.ingestion.commit import Ledger, Refusal, commit_batch, commit_refusals
from pipelines.ingestion.fingerprints import Fingerprint
from pipelines.ingestion.identity import sha256_hex, unnamed_submission_id
from pipelines.ingestion.incoming import Incoming
from pipelines.ingestion.report import IngestReport
from pipelines.ingestion.unread import NotReady, Refused, Vanished, unread_sha256
from pipelines.ingestion.workers import InOrder

log = logging.getLogger(__name__)


def land_submissions(
    con,
    incoming: Iterable[Incoming],
    parse_many: Callable[[str, list[tuple[str, bytes]]], list],
    run_id: str,
    months: set[str] | None = None,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None),
    validate: Callable[[str, pd.DataFrame, list[str]], pd.DataFrame] | None = None,
    workers: int = 0,
) -> IngestReport:
    """Land every new submission offered; skip the ones already in ``raw.submissions``.

    ``parse_many(stream, [(file_name, content), ...], hints)`` returns one ParseResult (rows,
    rejects, file_error, n_source_rows, identity) per file, or a BatchParse; ``hints`` tell it each
    file's submitter, period and arrival when known. ``validate(stream, rows, submission_ids)``
    (the Great Expectations suites) returns one outcome per submission for
    ``raw.submission_validation``. ``months``: a partitioned run lands only the submissions whose
    period covers them (the name tells the period, so the others are not even downloaded; an
    unnamed file is parsed and lands only when the period its rows tell is covered, else it is left
    unfingerprinted for a later run). Errors fetching a submission are recorded and the others
    continue; the caller decides whether a transport failure fails the run.

    With ``workers`` > 0, batches are parsed and validated on the engine's workers
    (:mod:`~pipelines.ingestion.engine`: an embedded Dask cluster of that many processes, or the
    cluster ``KONVERGENSI_DASK_SCHEDULER`` names) while this process reads files and writes DuckDB
    (``parse_many`` and ``validate`` must then be picklable). Batches still commit one at a time in
    arrival order, so versions and results are the same as without workers; a run with nothing new
    starts no worker.
    """
    # with the operators' set-aside decisions, which every reader of raw.submissions' latest versions reads
    tables.ensure_all(con, [*tables.INGESTION_TABLES, "raw.submission_exclusions"])
    ledger, cache = Ledger.load(con), fingerprints.load(con)
    report, seen, batcher, refused = IngestReport(), {}, Batcher(), []

    def commit(batch: list[Pending], prepared) -> None:
        for p in commit_batch(con, batch, prepared, run_id, now(), report, ledger, months):
            if p.inc.stat is not None:  # not fingerprinted: the next run reads it again
                seen.pop(p.inc.stat.path, None)

    with InOrder(workers, parse_many, validate, commit) as queue:
        for inc in read_ahead(incoming, lambda inc: inc.must_read(cache) and inc.lands_in(months)):
            if not inc.lands_in(months):
                continue
            if batcher.full_before(inc):
                queue.put(batcher.take())
            pending = _receive(inc, ledger, cache, seen, report)
            if isinstance(pending, Refusal):
                refused.append(pending)
            elif pending is not None:
                batcher.add(pending)
        queue.put(batcher.take())
        queue.finish()
        commit_refusals(con, refused, run_id, now(), report)
        fingerprints.remember(con, list(seen.values()), now())
    for line in report.deferred:
        log.info("left for a run covering its period (its name tells none): %s", line)
    return report


READ_AHEAD_BYTES = 64 * 1024 * 1024


def read_ahead(incoming: Iterable[Incoming], will_read: Callable[[Incoming], bool],
               window_bytes: int = READ_AHEAD_BYTES) -> Iterator[Incoming]:
    """``incoming`` in the same order, the landing files that will be read (``will_read``: new or
    changed, for these months) announced to the kernel (:func:`~pipelines.ingestion.incoming.advise_will_read`)
    up to ``window_bytes`` ahead of the one being handed out. The kernel then reads the next files
    while this process hashes, sends and commits the ones before, instead of each read waiting for
    the disk. Files that will not be read (unchanged, refused unread, other months, the portal's)
    are never announced, so a quiet night reads nothing. Measured (2026-12-02, the Banten month's
    1,552 e-PPGBM files, 275 MB, page cache dropped before each run, 0.3 ms of other work per file):
    read one after another 2.4-3.4 s, with a 32 MB window 1.2-1.5 s (the window here is two batches)."""
    pending: collections.deque[tuple[Incoming, int]] = collections.deque()
    ahead = 0  # bytes announced and not yet handed out
    source = iter(incoming)
    exhausted = False
    while True:
        while not exhausted and ahead < window_bytes:
            inc = next(source, None)
            if inc is None:
                exhausted = True
                break
            size = 0
            if inc.advise is not None and will_read(inc):
                inc.advise()
                size = inc.stat.size
            pending.append((inc, size))
            ahead += size
            if not size and len(pending) > 1:
                break  # nothing to read here: hand out what is ready before listing further
        if not pending:
            return
        inc, size = pending.popleft()
        ahead -= size
        yield inc


def _hash_before_fetch(inc: Incoming, cache, seen: dict[str, Fingerprint]) -> tuple[str | None, bytes | None]:
    """The file's hash when it is known before downloading, and its bytes if they were read to
    know it: the portal lists the hash; a landing file is fingerprinted (read only when its size
    or mtime changed since the cached fingerprint; never when it is refused unread)."""
    if inc.stat is None:
        return inc.sha256, None
    fp, content = inc.fingerprint(cache)
    if content is not None:
        seen[fp.path] = fp
    return fp.sha256, content


def _receive(inc: Incoming, ledger: Ledger, cache, seen: dict[str, Fingerprint], report: IngestReport
             ) -> Pending | Refusal | None:
    """The file as a new submission to land, or its refusal to record; None when it already
    landed (on either transport: not even fetched when its hash is known beforehand; an unnamed
    file: its bytes under any name of the stream), is not ready to read (left for the next run),
    or could not be fetched (recorded)."""
    where = f"{inc.transport}:{inc.stream}/{inc.file_name}"
    try:
        sha, content = _hash_before_fetch(inc, cache, seen)
        if ledger.holds(inc, sha):
            report.skipped_known += 1
            return None
        if content is None:
            content = inc.fetch()
            sha = sha256_hex(content)
            if inc.stat is not None:
                seen[inc.stat.path] = Fingerprint(*inc.stat, sha)
    except Refused as exc:
        return _refusal(inc, exc, ledger, report)
    except NotReady as exc:
        kind = report.vanished if isinstance(exc, Vanished) else report.not_ready
        kind.append(f"{where}: {exc}")
        log.warning("%s %s: %s", "skipped" if isinstance(exc, Vanished) else "left for the next run", where, exc)
        return None
    except Exception as exc:  # noqa: BLE001 - recorded; the caller fails the run after the rest landed
        report.errors.append(f"{where}: {exc}")
        return None
    sid = inc.submission_id(sha)
    if sid in ledger.ids or (sid is None and ledger.landed(inc.stream, sha, None)):
        report.skipped_known += 1
        return None
    ledger.add(inc.stream, sha, sid)
    return Pending(inc, content, sha, sid)


def _refusal(inc: Incoming, exc: Refused, ledger: Ledger, report: IngestReport) -> Refusal | None:
    """A file refused unread, to record under a stand-in hash (:func:`unread_sha256`; a landing
    file's came with it) and the id it gives; None when that refusal is already recorded."""
    sha = inc.sha256 if inc.stat is not None else unread_sha256(
        exc.reason, inc.transport, inc.stream, inc.file_name, inc.sha256, exc.size)
    sid = refusal_id(inc, sha)
    if sid in ledger.ids:
        report.skipped_known += 1
        return None
    ledger.add(inc.stream, sha, sid)
    log.warning("refused %s:%s/%s unread: %s", inc.transport, inc.stream, inc.file_name, exc)
    return Refusal(inc, sid, sha, exc.reason, exc.detail, exc.size)


def refusal_id(inc: Incoming, sha: str) -> str:
    """The submission id a file refused unread is recorded under: its name's, else one from its
    name and (stand-in) hash."""
    return inc.submission_id(sha) or unnamed_submission_id(inc.stream, inc.file_name, sha)
