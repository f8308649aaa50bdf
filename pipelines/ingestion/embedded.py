"""The embedded Dask cluster's processes (:mod:`~pipelines.ingestion.engine`): the settings its
workers run with, the fork server they come from, and killing what a failed close leaves behind."""

from __future__ import annotations

import functools
import logging
import os
import sys

log = logging.getLogger(__name__)

SCHEDULER_ENV = "KONVERGENSI_DASK_SCHEDULER"


def scheduler_address() -> str:
    return os.environ.get(SCHEDULER_ENV, "").strip()


# Dask settings for the embedded workers (a Nanny hands its process's Dask config to the worker it
# starts). A worker's task thread parses Python objects and holds the GIL; by default the worker also
# samples that thread's stack 100 times a second (its profiler), ticks its event loop 50 times a
# second and polls its memory 10 times a second, each taking the GIL from the task. Those serve
# Dask's dashboard, which the embedded cluster does not start; the nanny still restarts a worker that
# passes its memory limit. A remote cluster's operators set the same in their Dask config
# (docs/deploy.md). Measured (2026-12-01): about 1 % of a worker's CPU on a Python-heavy task; a
# Banten A/B stayed within this machine's run-to-run noise, so this is hygiene, not the fix of the
# engine's cost over the old fork pool (docs/performance.md).
QUIET_WORKER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "500ms",
    # glibc's allocator in the workers (Dask's nanny exports these before it starts a worker).
    # Dask's default, MALLOC_TRIM_THRESHOLD_=65536, also freezes glibc's mmap threshold at 128 KB:
    # every column array of a batch is then a fresh mapping, zero-filled page by page and unmapped
    # when freed. Measured on a Banten month (2026-12-02, same files, three runs each): the workers'
    # parse + GX CPU 25.7-26.2 s with Dask's default, 22.4-24.0 s with these; peak RSS per worker
    # 0.75 -> 0.79 GB. Blocks of 32 MB and more are still mapped and returned at once, and free heap
    # above 128 MB is returned to the system.
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": str(128 * 1024 * 1024),
    "distributed.nanny.pre-spawn-environ.MALLOC_MMAP_THRESHOLD_": str(32 * 1024 * 1024),
    # Arrow's buffers from glibc's allocator too (above), instead of Arrow's bundled mimalloc, which
    # returns freed pages to the system and faults them in again for the next batch's columns.
    # Measured on a Banten month (2026-12-03, alternated, two runs each): the workers' CPU 32.0/33.1
    # -> 29.2/26.4 s, ingest 22.3/23.5 -> 20.5/19.4 s; each worker's peak RSS 0.73-0.79 -> 0.78-0.82 GB
    # (the tree's summed peak 3.0-3.2 -> 3.6 GB: the workbook readers forked from a worker count its
    # retained heap again). `konvergensi run`'s own process (the writer) gets it too: warm_up exports
    # it before that process's first Arrow allocation.
    "distributed.nanny.pre-spawn-environ.ARROW_DEFAULT_MEMORY_POOL": "system",
}


WORKER_PRELOAD = "pipelines.ingestion.worker_preload"


def use_fork_server() -> None:
    """Embedded workers come from a fork server that imported the parser and Great Expectations
    once (:mod:`~pipelines.ingestion.worker_preload`): they start in a fraction of a second, and so
    does a worker the nanny restarts. Not plain fork: this process runs Dask's event loop and
    DuckDB's threads, and a child forked from it can inherit a lock held by one of them (seen: a
    run that hung in ``scatter``). The fork server is one per process and lasts as long as it."""
    import dask
    from distributed.utils import get_mp_context

    dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"})
    from multiprocessing import forkserver

    context = get_mp_context()  # sets Dask's own preload list, once
    preload = list(getattr(forkserver._forkserver, "_preload_modules", None) or [])
    if WORKER_PRELOAD not in preload:
        context.set_forkserver_preload([*preload, WORKER_PRELOAD])


def start_fork_server() -> None:
    """Start the fork server :func:`use_fork_server` would, now and without importing Dask's
    ``distributed`` here (0.7 s of this process's critical path: it imports every package Dask
    knows of): a server already running when the cluster starts is the one it uses, whatever
    preload list is set later. The server itself imports ``distributed`` first, as Dask's own
    preload list would have it."""
    import multiprocessing
    from multiprocessing import forkserver

    if forkserver._forkserver._forkserver_pid is None:  # noqa: SLF001 - not started yet: set what it preloads
        multiprocessing.get_context("forkserver").set_forkserver_preload(["distributed", WORKER_PRELOAD])
    forkserver.ensure_running()


@functools.cache  # once per process: warm_up runs from the command, the run and the ingestion step
def _distributed_defaults() -> None:
    """Dask's ``distributed`` defaults in Dask's config, as importing ``distributed`` puts them there
    (its ``config.py``: the package's ``distributed.yaml`` through ``update_defaults``), without
    importing the package."""
    import importlib.util

    import dask.config
    import yaml

    if "distributed" in sys.modules:
        return
    spec = importlib.util.find_spec("distributed")
    with open(os.path.join(os.path.dirname(spec.origin), "distributed.yaml")) as f:
        dask.config.update_defaults(yaml.safe_load(f))


def export_worker_environ() -> None:
    """Export the variables Dask's nanny exports before it starts a worker
    (``distributed.nanny.pre-spawn-environ``, with :data:`QUIET_WORKER_CONFIG`'s), as the nanny
    would: a forked worker inherits the fork server's environment, fixed when the server starts.
    Only a fork server started early (:func:`warm_up`) needs it: when the cluster starts the server
    itself, its first nanny has exported them just before."""
    import dask

    _distributed_defaults()
    with dask.config.set(QUIET_WORKER_CONFIG):  # a copy: leaving the block restores the config in place
        wanted = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
    os.environ.update({k: os.environ.get(k, str(v)) for k, v in wanted.items() if v is not None})


def kill_workers(nannies) -> None:
    """SIGKILL the embedded workers a failed close left running (they hold nothing to write). Each
    nanny is marked closed first: one still running would start its worker again at once (a
    leftover worker then held the test run's exit for ever, joined by multiprocessing at exit while
    it ignored the SIGTERM sent to it)."""
    import signal

    from distributed.core import Status

    for nanny in nannies:
        try:
            nanny.status = Status.closed
            pid = nanny.pid
        except Exception:  # noqa: BLE001 - a best effort after a failed close
            continue
        if not pid:
            continue
        try:
            os.kill(pid, signal.SIGKILL)
            log.warning("killed embedded Dask worker process %d: still running after the cluster failed to "
                        "close", pid)
        except ProcessLookupError:
            pass


def warm_up() -> None:  # here, not in engine.py: importing this module costs nothing (engine.py: 0.5 s)
    """Start the embedded cluster's fork server now, without waiting for it: it imports the parser
    and Great Expectations (3.3 s of one core) while this process does something else (checks
    whether the night is quiet, loads the definitions). The cluster itself still starts with the
    first batch, so a run with nothing new starts no worker (the command ends the fork server); a
    run on a remote cluster (``KONVERGENSI_DASK_SCHEDULER``) or on one core (no workers) starts
    nothing here. Measured on a Banten month: the first batch waited 3.4 s for the workers without
    this; 2.07 s when this came after the night check, 0.26 s since it comes first (2026-12-03)."""
    from pipelines.settings import ingest_workers

    if scheduler_address() or ingest_workers() <= 0:
        return
    try:
        export_worker_environ()
        start_fork_server()
    except Exception as exc:  # noqa: BLE001 - only a head start: the cluster's own start reports a real failure
        log.warning("starting the ingestion workers' fork server early failed (%s: %s); it starts with the "
                    "first batch", type(exc).__name__, str(exc)[:200])
