"""Preparing batches in forked worker processes, committing them in arrival order.

Fork (not spawn) so workers start in milliseconds with the parent's imports (Great Expectations
takes seconds to import); they never touch DuckDB. A broken worker falls back to preparing the
batch in this process, and the pool is started again for the batches after it. Neither a worker
nor this process reads a workbook itself: :func:`~pipelines.parsing.readers.read_tables` reads
them in child processes, so a workbook that crashes its reader costs only that file. ``parse_many`` and ``validate`` reach the workers once, through the fork (a
national region index pickled with every batch cost more than parsing some of them); a task
carries only its files.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from pipelines.ingestion.batches import Item, Pending, Prepared, prepare_batch

log = logging.getLogger(__name__)


class Pool:
    """Forked worker processes for :func:`~pipelines.ingestion.batches.prepare_batch`."""

    def __init__(self, workers: int, parse_many, validate) -> None:
        self._workers, self._parse_many, self._validate = workers, parse_many, validate
        self._executor = self._start()

    def _start(self):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor(
            max_workers=self._workers, mp_context=multiprocessing.get_context("fork"),
            initializer=_init_worker, initargs=(self._parse_many, self._validate),
        )

    def submit(self, stream: str, items: list[Item]) -> Fallback:
        from concurrent.futures.process import BrokenProcessPool

        try:
            future = self._executor.submit(_prepare_in_worker, stream, items)
        except BrokenProcessPool:  # a worker died (its batches fall back here): the pool takes no more
            log.warning("a parser worker died; starting new workers")
            self._executor.shutdown(wait=False)
            self._executor = self._start()
            future = self._executor.submit(_prepare_in_worker, stream, items)
        return Fallback(future, stream, items, self._parse_many, self._validate)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


_WORKER_FUNCTIONS: tuple | None = None


def _init_worker(parse_many, validate) -> None:
    global _WORKER_FUNCTIONS
    _WORKER_FUNCTIONS = (parse_many, validate)


def _prepare_in_worker(stream: str, items: list[Item]) -> Prepared:
    parse_many, validate = _WORKER_FUNCTIONS
    return prepare_batch(stream, items, parse_many, validate)


@dataclass
class Fallback:
    """A batch submitted to the pool; prepared here instead when its worker died."""

    future: object
    stream: str
    items: list[Item]
    parse_many: object
    validate: object

    def result(self) -> Prepared:
        from concurrent.futures.process import BrokenProcessPool

        try:
            return self.future.result()
        except BrokenProcessPool:
            log.warning("a parser worker died; preparing %d %s files in the main process", len(self.items),
                        self.stream)
            return prepare_batch(self.stream, self.items, self.parse_many, self.validate)


# Batches queued beyond one per worker: a worker that finishes takes the queued batch at once
# instead of waiting while this process commits the oldest and reads the next batch's files
# (about a third of a batch's time on a Banten month).
QUEUED = 1


class InOrder:
    """Batches prepared (in ``workers`` forked processes, or here when 0) and handed to
    ``commit`` one at a time in the order they were put, so versions and results do not depend
    on the workers. At most ``workers`` + :data:`QUEUED` batches are in flight; the pool starts
    (after ``before_fork``) with the first batch, so a run with nothing new starts no worker."""

    def __init__(self, workers: int, parse_many, validate, before_fork: Callable[[], None] | None,
                 commit: Callable[[list[Pending], Prepared], None]) -> None:
        self._workers, self._parse_many, self._validate = workers, parse_many, validate
        self._before_fork, self._commit = before_fork, commit
        self._pool: Pool | None = None
        self._in_flight: deque = deque()

    def put(self, batch: list[Pending]) -> None:
        if not batch:
            return
        if self._workers > 0 and self._pool is None:
            if self._before_fork is not None:
                self._before_fork()
            self._pool = Pool(self._workers, self._parse_many, self._validate)
        stream, items = batch[0].inc.stream, [p.item for p in batch]
        if self._pool is None:
            self._in_flight.append((batch, prepare_batch(stream, items, self._parse_many, self._validate)))
        else:
            self._in_flight.append((batch, self._pool.submit(stream, items)))
        while len(self._in_flight) > (self._workers + QUEUED if self._pool is not None else 0):
            self._commit_oldest()

    def finish(self) -> None:
        """Commit every batch still in flight."""
        while self._in_flight:
            self._commit_oldest()

    def _commit_oldest(self) -> None:
        batch, job = self._in_flight.popleft()
        self._commit(batch, job.result() if isinstance(job, Fallback) else job)

    def __enter__(self) -> InOrder:
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.close()
