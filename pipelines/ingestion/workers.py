"""Preparing batches on the engine's workers (:mod:`~pipelines.ingestion.engine`: Dask, embedded or a
cluster), committing them in arrival order.

Workers never touch DuckDB. A batch the cluster loses is submitted again and at last prepared in
this process. Neither a worker nor this process reads a workbook itself:
:func:`~pipelines.parsing.readers.read_tables` reads them in child processes, so a workbook that
crashes its reader costs only that file. ``parse_many`` and ``validate`` reach each worker once (a
national region index pickled with every batch cost more than parsing some of them); a task
carries only its files.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

from pipelines.ingestion.batches import Pending, Prepared, merge_prepared, prepare_batch
from pipelines.ingestion.engine import DaskBatch, DaskPool, EngineConfigError, scheduler_address

log = logging.getLogger(__name__)


# DuckDB's rows per row group. A transaction that inserts fewer rows into a table writes them to the
# WAL, and the checkpoint at the end of landing compresses them, on one core, after the workers are
# done; whole row groups are written compressed at commit, while the workers still prepare the next
# batches. A batch of P3KE registers (32 MB) holds about 100k rows: committed alone, every one of them
# went through the WAL (a Banten month: 286 MB of WAL, a 2.6 s checkpoint at the end).
ROW_GROUP_ROWS = 122_880


def _prepared(job) -> Prepared:
    return job.result() if isinstance(job, DaskBatch) else job


def _ready(job) -> bool:
    """Whether the batch is prepared (waiting for it would not block)."""
    return not isinstance(job, DaskBatch) or job.done()


def _n_rows(prepared: Prepared) -> int:
    return 0 if prepared.rows is None else len(prepared.rows)


# Batches queued beyond one per worker: a worker that finishes takes the queued batch at once
# instead of waiting while this process commits the oldest and reads the next batch's files
# (about a third of a batch's time on a Banten month).
QUEUED = 1


class InOrder:
    """Batches prepared (on the engine's workers, or here when ``workers`` is 0) and handed to
    ``commit`` in the order they were put, so versions and results do not depend on the workers
    (with workers, consecutive small batches of one stream are handed over together: see
    :meth:`_commit_oldest`). At most ``workers`` + :data:`QUEUED` batches are in flight (with a cluster,
    ``workers`` is the cluster's); the engine starts with the first batch,
    so a run with nothing new starts no worker and connects to no cluster."""

    def __init__(self, workers: int, parse_many, validate,
                 commit: Callable[[list[Pending], Prepared], None]) -> None:
        self._workers, self._parse_many, self._validate = workers, parse_many, validate
        self._commit = commit
        self._pool: DaskPool | None = None
        self._in_flight: deque = deque()

    def put(self, batch: list[Pending]) -> None:
        if not batch:
            return
        if self._workers > 0 and self._pool is None:
            self._start_pool()
        stream, items = batch[0].inc.stream, [p.item for p in batch]
        if self._pool is None:
            self._in_flight.append((batch, prepare_batch(stream, items, self._parse_many, self._validate)))
        else:
            self._in_flight.append((batch, self._pool.submit(stream, items)))
        while len(self._in_flight) > (self._workers + QUEUED if self._pool is not None else 0):
            self._commit_oldest()

    def _start_pool(self) -> None:
        """The engine, at the first batch. An embedded cluster that cannot start (a worker that does
        not come up within the engine's start timeout) costs the run its speed, not the run: every
        batch is prepared here, and the error says so. A remote cluster that cannot be reached, or
        settings that cannot work, stop the step: the operator asked for that cluster."""
        try:
            self._pool = DaskPool(self._workers, self._parse_many, self._validate)
        except EngineConfigError:
            raise
        except Exception as exc:
            if scheduler_address():
                raise
            log.error("the embedded Dask cluster did not start (%s: %s): every batch of this run is prepared "
                      "in this process, on one core", type(exc).__name__, str(exc)[:300])
            self._workers = 0
            return
        self._workers = self._pool.n_workers

    def finish(self) -> None:
        """Commit every batch still in flight."""
        while self._in_flight:
            self._commit_oldest(finishing=True)

    def _commit_oldest(self, finishing: bool = False) -> None:
        """Commit the oldest batch. The next batches in flight of the same stream join the same
        transaction while its rows fill less than one DuckDB row group (see :data:`ROW_GROUP_ROWS`);
        so does a next batch that is itself under a row group (a stream's last, short batch) once
        it is prepared: when it already is, or when nothing more is coming (``finishing``), when
        waiting for it costs nothing."""
        batch, job = self._in_flight.popleft()
        parts = [_prepared(job)]
        while self._in_flight and self._in_flight[0][0][0].inc.stream == batch[0].inc.stream:
            more, job = self._in_flight[0]
            small_so_far = sum(_n_rows(p) for p in parts) < ROW_GROUP_ROWS
            if not (small_so_far or finishing or _ready(job)):
                break
            prepared = _prepared(job)
            if not small_so_far and _n_rows(prepared) >= ROW_GROUP_ROWS:
                self._in_flight[0] = (more, prepared)  # prepared once: committed on its own next
                break
            self._in_flight.popleft()
            batch = batch + more
            parts.append(prepared)
        self._commit(batch, merge_prepared(parts))

    def __enter__(self) -> InOrder:
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.close()
