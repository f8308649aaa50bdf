"""The engine that prepares batches (parse, pseudonymise, validate): Dask distributed.

* **Embedded (the default):** a ``LocalCluster`` of ``workers`` processes on this machine, forked from
  a fork server that imported the parser and Great Expectations once (so they start in a fraction of
  a second), reachable on loopback only. Nothing to install or start by hand: ``make demo`` and
  ``konvergensi run`` use it.
* **A cluster:** ``KONVERGENSI_DASK_SCHEDULER=tcp://host:8786`` sends the batches to the workers of an
  existing Dask scheduler (``dask scheduler`` / ``dask worker``, or a Kubernetes/YARN/SLURM
  deployment of them; docs/deploy.md). Their output is written to ``KONVERGENSI_SPOOL_DIR``, which
  must then be storage this machine and every worker share.

A batch's files travel to one worker directly (``scatter``); the parser and the suites reach each
worker once, as a worker plugin (:func:`_parser_plugin`), which a restarted worker gets too. The worker writes the batch's accepted rows as an Arrow IPC file in
the spool folder and returns the rest (counts, rejects, outcomes: small); this process, the single
DuckDB writer, reads the file back as an Arrow table and commits the batch (DuckDB inserts the same
rows as from the worker's frame: the cluster test compares the marts). Dask reruns a task whose worker dies; a batch whose files died with their worker,
or that killed workers :data:`ATTEMPTS` times, is submitted again and at last prepared here, so a
worker lost mid-run loses nothing.

The parser's pseudonym key reaches the workers inside the parser (pickled, as it reached the forked
workers before): on a cluster that spans machines, secure the Dask comms with TLS (docs/deploy.md).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import uuid
from concurrent.futures import CancelledError
from dataclasses import dataclass

from pipelines.ingestion.batches import Item, Prepared, prepare_batch
from pipelines.ingestion.embedded import (
    QUIET_WORKER_CONFIG,
    SCHEDULER_ENV,
    kill_workers,
    scheduler_address,
    use_fork_server,
)

log = logging.getLogger(__name__)

SPOOL_ENV = "KONVERGENSI_SPOOL_DIR"
ATTEMPTS = 3  # submissions of one batch to the cluster before it is prepared here
CONNECT_TIMEOUT_S = 30
NO_WORKER_ENV = "KONVERGENSI_NO_WORKER_TIMEOUT_S"
# How long a batch waits while the cluster has no worker at all before the cluster is given up and
# every batch still to come is prepared here. An embedded worker that dies is back in well under a
# second; one whose nanny failed to restart it never comes back, and a batch waiting for it would
# wait for ever (seen once: a CI run hung for 85 minutes on the test whose batches kill every worker).
# A remote cluster's workers may be rescheduled by Kubernetes or SLURM: it gets longer.
NO_WORKER_TIMEOUT_S = {"embedded": 60.0, "cluster": 600.0}
POLL_S = 1.0  # how often a waiting batch looks at the cluster
CLOSE_TIMEOUT_S = 30  # closing the embedded cluster (a nanny that cannot restart its worker can hold it)
# Starting an embedded worker (a fork of the fork server, registering with the scheduler: well under a
# second). Dask's nanny waits for ever by default; past this it gives up and the worker, too, stops
# waiting for a scheduler.
START_TIMEOUT_S = 60


class EngineConfigError(RuntimeError):
    """The engine settings cannot work (a remote scheduler without a shared spool folder)."""


class ClusterGone(RuntimeError):
    """The cluster has had no worker for longer than :func:`no_worker_timeout_s`."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the Dask cluster has had no worker for {seconds:.0f} s")


def no_worker_timeout_s(remote: bool) -> float:
    """``KONVERGENSI_NO_WORKER_TIMEOUT_S`` if set, else :data:`NO_WORKER_TIMEOUT_S` for the kind of cluster."""
    raw = os.environ.get(NO_WORKER_ENV, "").strip()
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            raise EngineConfigError(f"{NO_WORKER_ENV}={raw!r} is not a number of seconds") from None
    return NO_WORKER_TIMEOUT_S["cluster" if remote else "embedded"]


@dataclass
class Spooled:
    """A batch prepared on a worker: its accepted rows in a Parquet file, the rest here."""

    prepared: Prepared
    rows_path: str | None


def _write_rows(prepared: Prepared, spool: str, name: str, compression: str | None = None) -> Spooled:
    """The batch's accepted rows as an Arrow IPC file in the spool (``compression``: None for a
    local spool, where writing is a copy and reading a memory map; ``"lz4"`` for a shared one, a
    third of the bytes on the network for twice the CPU). Parquet cost 4x the CPU to write and
    20x to read, for a file read once and deleted."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    if prepared.rows is None:
        return Spooled(prepared, None)
    path = os.path.join(spool, f"{name}.arrow")
    tmp = f"{path}.{os.getpid()}.tmp"  # a rerun of the task elsewhere never reads a half-written file
    table = pa.Table.from_pandas(prepared.rows, preserve_index=None)
    with ipc.new_file(tmp, table.schema, options=ipc.IpcWriteOptions(compression=compression)) as writer:
        writer.write_table(table)
    os.replace(tmp, path)
    prepared.rows = None
    return Spooled(prepared, path)


def _read_rows(spooled: Spooled) -> Prepared:
    import pyarrow as pa
    import pyarrow.ipc as ipc

    prepared = spooled.prepared
    if spooled.rows_path is not None:
        # Kept as Arrow: DuckDB inserts it as it is, and the single writer does not spend CPU on a
        # pandas frame it would only hand to DuckDB (commit.py takes either). Memory-mapped: the
        # mapping outlives the unlink.
        prepared.rows = ipc.open_file(pa.memory_map(spooled.rows_path)).read_all()
        os.unlink(spooled.rows_path)
    return prepared


PLUGIN_NAME = "konvergensi-parser"


def _parser_plugin(parse_many, validate):
    """The parser and the suites, installed once on every worker, including one that joins or is
    restarted later (a Dask worker plugin: the scheduler keeps it and hands it to each worker)."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class ParserPlugin(WorkerPlugin):
        name = PLUGIN_NAME

        def __init__(self, parse_many, validate) -> None:
            self.parse_many, self.validate = parse_many, validate

        def setup(self, worker) -> None:
            # The workbook readers' spawner, forked while this worker is small: forked from the
            # worker itself once per batch, they cost it ~1 M page faults a Banten e-PPGBM pass.
            from pipelines.parsing.isolated import start_spawner

            try:
                start_spawner()
            except OSError as exc:  # no fork now (memory, process limit): the worker forks its readers
                log.warning("no workbook reader spawner on this worker: %s", exc)

        def teardown(self, worker) -> None:
            from pipelines.parsing.isolated import stop_spawner

            stop_spawner()

    return ParserPlugin(parse_many, validate)


def prepare_on_worker(stream: str, items: list[Item], spool: str, name: str, compression: str | None = None
                      ) -> Spooled:
    """The task a worker runs: :func:`~pipelines.ingestion.batches.prepare_batch` with the worker's
    parser plugin, rows spooled."""
    from distributed import get_worker

    plugin = get_worker().plugins[PLUGIN_NAME]
    return _write_rows(prepare_batch(stream, items, plugin.parse_many, plugin.validate), spool, name, compression)


def _distributed_failures() -> tuple[type[BaseException], ...]:
    from distributed.comm.core import CommClosedError
    from distributed.scheduler import KilledWorker

    return (KilledWorker, CancelledError, CommClosedError, OSError, TimeoutError)


class DaskPool:
    """Batches prepared on Dask workers: an embedded ``LocalCluster`` of ``workers`` forked
    processes, or the cluster at ``KONVERGENSI_DASK_SCHEDULER``."""

    def __init__(self, workers: int, parse_many, validate) -> None:
        from distributed import Client, LocalCluster

        self._parse_many, self._validate = parse_many, validate
        address = scheduler_address()
        spool = os.environ.get(SPOOL_ENV, "").strip()
        if address and not spool:
            raise EngineConfigError(
                f"{SCHEDULER_ENV} is set ({address}) but {SPOOL_ENV} is not: the workers write each batch's "
                "rows there and this process reads them back, so it must be a folder every worker and this "
                "machine share (docs/deploy.md)")
        self._no_worker_timeout = no_worker_timeout_s(bool(address))
        self.gone = False  # set once the cluster had no worker for that long: batches are prepared here
        self._own_spool = not spool
        self._spool = tempfile.mkdtemp(prefix="konvergensi-spool-") if not spool else spool
        os.makedirs(self._spool, mode=0o700, exist_ok=True)
        self._cluster = None
        if address:
            self._client = Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
            log.info("preparing batches on the Dask cluster at %s (%d workers)", address,
                     len(self._client.scheduler_info(n_workers=-1)["workers"]))
        else:
            import dask

            use_fork_server()
            with dask.config.set(QUIET_WORKER_CONFIG):  # each Nanny keeps the config it was made with
                self._cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                             host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR,
                                             death_timeout=START_TIMEOUT_S)
            self._client = Client(self._cluster, set_as_default=False)
        self._client.register_plugin(_parser_plugin(parse_many, validate), name=PLUGIN_NAME)

    @property
    def n_workers(self) -> int:
        """Workers now in the cluster (at least 1: batches wait for a worker that joins later)."""
        if self._cluster is not None:
            return len(self._cluster.workers)
        return max(1, len(self._client.scheduler_info(n_workers=-1)["workers"]))

    def submit(self, stream: str, items: list[Item]) -> DaskBatch:
        return DaskBatch(self, stream, items)

    def _has_workers(self) -> bool:
        try:
            if self._cluster is not None:  # the embedded scheduler runs in this process
                return any(ws.status.name not in ("closing", "closed", "closing_gracefully")
                           for ws in list(self._cluster.scheduler.workers.values()))
            return bool(self._client.scheduler_info(n_workers=-1)["workers"])
        except _distributed_failures():
            return False

    def wait(self, future) -> None:
        """Wait until ``future`` is done, or raise :class:`ClusterGone` (and mark the pool ``gone``)
        once the cluster has had no worker (none, or all of them closing) for the pool's no-worker
        timeout. A slow batch on a live worker, or one paused for memory, is waited for as long as it
        takes."""
        import threading
        import time

        done = threading.Event()
        future.add_done_callback(lambda _: done.set())
        without_since = None
        while not done.wait(POLL_S):
            if self._has_workers():
                without_since = None
                continue
            now = time.monotonic()
            without_since = now if without_since is None else without_since
            if now - without_since >= self._no_worker_timeout:
                self.gone = True
                raise ClusterGone(now - without_since)

    def _submit(self, stream: str, items: list[Item]):
        try:  # the files go to a worker: with none in the cluster, Dask waits for one to join
            [data] = self._client.scatter([items], direct=True, hash=False, timeout=self._no_worker_timeout)
        except TimeoutError as exc:
            if "No valid workers" not in str(exc):
                raise
            self.gone = True
            raise ClusterGone(self._no_worker_timeout) from None
        compression = None if self._own_spool else "lz4"  # a shared spool's bytes cross the network
        return self._client.submit(prepare_on_worker, stream, data, self._spool, uuid.uuid4().hex, compression,
                                   pure=False)

    def close(self) -> None:
        """Close the client and the embedded cluster. Every batch is committed by now, so a failure
        to close cannot lose anything and must not fail the step: seen here, a nanny still
        restarting a worker that died on the last batch when the cluster closes (Dask asserts
        "can only join a started process"). It is logged, and the close tried once more; each
        attempt is bounded (:data:`CLOSE_TIMEOUT_S`), and a worker process still there after both
        is killed, so closing can never hold the step."""
        try:
            self._client.close(timeout=CLOSE_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - see the docstring
            log.warning("closing the Dask client: %s: %s", type(exc).__name__, str(exc)[:200])
        if self._cluster is not None:
            for attempt in (1, 2):
                try:
                    self._cluster.close(timeout=CLOSE_TIMEOUT_S)
                    break
                except Exception as exc:  # noqa: BLE001 - see the docstring
                    log.warning("closing the embedded Dask cluster (attempt %d): %s: %s", attempt,
                                type(exc).__name__, str(exc)[:200])
            else:
                kill_workers(list(self._cluster.workers.values()))
        if self._own_spool:
            shutil.rmtree(self._spool, ignore_errors=True)


class DaskBatch:
    """One batch in flight on the cluster; :meth:`result` waits for it, submitting it again when
    the cluster lost it (a worker died with its files, or it killed workers Dask's
    ``allowed-failures`` times) and preparing it here after :data:`ATTEMPTS` losses."""

    def __init__(self, pool: DaskPool, stream: str, items: list[Item]) -> None:
        self._pool, self.stream, self.items = pool, stream, items
        self._future = self._submit()

    def _submit(self):
        if self._pool.gone:
            return None
        try:
            return self._pool._submit(self.stream, self.items)
        except ClusterGone as exc:
            self._gone(exc)
            return None
        except _distributed_failures() as exc:  # the worker given the files died under them
            self._lost(exc)
            return None

    def _gone(self, exc: ClusterGone) -> None:
        log.error("%s: this batch of %d %s files and every one after it are prepared in the main process "
                  "(one core; the run goes on)", exc, len(self.items), self.stream)

    def _lost(self, exc: BaseException) -> None:
        log.warning("a Dask worker died with a batch of %d %s files (%s: %s)", len(self.items), self.stream,
                    type(exc).__name__, str(exc)[:200])

    def done(self) -> bool:
        """Whether :meth:`result` would return without waiting for the cluster."""
        return self._pool.gone or (self._future is not None and self._future.done())

    def result(self) -> Prepared:
        for attempt in range(ATTEMPTS):
            if self._pool.gone:
                break
            if self._future is None and attempt > 0:
                self._future = self._submit()
            if self._future is not None:
                try:
                    self._pool.wait(self._future)
                    return _read_rows(self._future.result())
                except ClusterGone as exc:
                    self._gone(exc)
                except _distributed_failures() as exc:
                    self._lost(exc)
                    self._future = None
        else:
            log.warning("the cluster lost a batch of %d %s files %d times: preparing it in the main process",
                        len(self.items), self.stream, ATTEMPTS)
        if self._future is not None:  # the cluster is gone: it must not prepare this batch too
            try:
                self._future.cancel()
            except Exception as exc:  # noqa: BLE001 - a cluster that is gone may not answer
                log.debug("cancelling a batch on a cluster that is gone: %s", exc)
            self._future = None
        return prepare_batch(self.stream, self.items, self._pool._parse_many, self._pool._validate)
