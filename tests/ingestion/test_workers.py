"""Batches prepared on the engine's Dask workers (an embedded LocalCluster of forked processes here)
and committed in the order they were put (pipelines.ingestion.workers, pipelines.ingestion.engine); a
worker that dies costs its batch a rerun, never the batch nor the run."""

from __future__ import annotations

import logging
import os
import time

import pytest

from pipelines.ingestion.batches import Pending, prepare_batch
from pipelines.ingestion.incoming import Incoming
from pipelines.ingestion.workers import InOrder
from tests.ingestion.toy_parser import toy_parse


def _batch(n: int, size: int = 2) -> list[Pending]:
    out = []
    for i in range(size):
        name = f"36.01.01.{2001 + i}_2024.csv"
        content = "\n".join(str(j) for j in range(n + i + 1)).encode()
        out.append(Pending(Incoming("households", name, "landing", None, lambda c=content: c), content, "sha",
                           f"b{n}-{i}"))
    return out


def _run(workers: int, batches: list[list[Pending]], parse=toy_parse):
    committed, pools = [], []

    def commit(batch, prepared):
        committed.append(([p.sid for p in batch], prepared.results))

    with InOrder(workers, parse, None, commit) as queue:
        for b in batches:
            queue.put(b)
            pools.append(queue._pool is not None)
        queue.put([])
        queue.finish()
    return committed, pools


def _flat(committed):
    return [s for sids, _ in committed for s in sids], {k: v for _, r in committed for k, v in r.items()}


def test_workers_commit_what_one_process_commits_in_the_same_order():
    batches = [_batch(n) for n in range(6)]
    inline, no_pool = _run(0, batches)
    pooled, pools = _run(2, batches)
    assert _flat(pooled) == _flat(inline) and [sids for sids, _ in inline] == [[p.sid for p in b] for b in batches]
    assert not any(no_pool) and all(pools)  # the engine starts with the first batch, only with workers


def _stream_batch(stream: str, n: int) -> list[Pending]:
    name = f"36.01.01.{2001 + n}_2024.csv"
    content = f"@36.01.01.{2001 + n} 2024-08\n{n}\n{n}".encode()  # the rows tell who and when
    return [Pending(Incoming(stream, name, "landing", None, lambda c=content: c), content, "sha", f"{stream}-{n}")]


def test_small_batches_of_one_stream_in_flight_share_a_transaction_and_streams_never_mix(monkeypatch):
    """Batches whose rows fill less than a DuckDB row group (which DuckDB would send through its WAL)
    are committed with the next batch of the same stream already in flight, in order, every file's
    counts kept; a batch of another stream is never joined."""
    from pipelines.ingestion import workers

    batches = [_stream_batch("households", 0), _stream_batch("households", 1), _stream_batch("households", 2),
               _stream_batch("village_scorecard", 3), _stream_batch("households", 4)]
    committed = []

    def commit(batch, prepared):
        committed.append(([p.sid for p in batch], prepared.sids, sorted(prepared.results),
                          0 if prepared.rows is None else len(prepared.rows)))

    monkeypatch.setattr(workers, "ROW_GROUP_ROWS", 5)  # each toy batch holds 2 rows
    with InOrder(1, toy_parse, None, commit) as queue:  # 1 worker + 1 queued: up to three in flight
        for b in batches:
            queue.put(b)
        queue.finish()
    sids = [[p.sid for p in b] for b in batches]
    # 2 + 2 rows < 5: the third joins too; then 6 >= 5 stops; the scorecard batch stands alone
    assert [c[0] for c in committed] == [sids[0] + sids[1] + sids[2], sids[3], sids[4]]
    assert all(c[0] == c[1] and sorted(c[0]) == c[2] for c in committed)
    assert [c[3] for c in committed] == [6, 2, 2]


def test_nothing_to_prepare_starts_no_worker():
    committed, pools = _run(4, [])
    assert committed == [] and pools == []


def _in_a_worker() -> bool:
    from distributed import get_worker

    try:
        get_worker()
    except ValueError:  # not in a Dask worker: the main process preparing a batch itself
        return False
    return True


def _dies_in_a_worker(stream, files, hints):
    if _in_a_worker():
        os._exit(1)  # a worker killed mid-batch (OOM killer, segfault in a C extension)
    return toy_parse(stream, files, hints)


def test_a_batch_that_kills_every_worker_is_prepared_here(caplog):
    batches = [_batch(n) for n in range(3)]
    expected, _ = _run(0, batches)
    with caplog.at_level(logging.WARNING, logger="pipelines.ingestion.engine"):
        committed, _ = _run(2, batches, parse=_dies_in_a_worker)
    assert _flat(committed) == _flat(expected)
    assert any("Dask worker died" in r.getMessage() for r in caplog.records)
    assert any("preparing it in the main process" in r.getMessage() for r in caplog.records)
    assert prepare_batch("households", [p.item for p in batches[0]], toy_parse, None).results == expected[0][1]


PREPARED_HERE: list[bytes] = []


def _dies_on_the_first_batch(stream, files, hints):
    if not _in_a_worker():
        PREPARED_HERE.append(files[0][1])
    elif files[0][1] == b"0":
        os._exit(1)
    return toy_parse(stream, files, hints)


def test_the_batches_after_a_dead_worker_go_to_the_restarted_worker(caplog):
    batches = [_batch(n) for n in range(6)]
    expected, _ = _run(0, batches)
    PREPARED_HERE.clear()
    with caplog.at_level(logging.WARNING, logger="pipelines.ingestion.engine"):
        committed, _ = _run(1, batches, parse=_dies_on_the_first_batch)
    assert _flat(committed) == _flat(expected)
    assert any("Dask worker died" in r.getMessage() for r in caplog.records)
    assert PREPARED_HERE == [b"0"]  # only the killing batch was prepared here; the others on the worker


def test_rows_come_back_from_the_spool_as_they_left_and_the_spool_is_removed(tmp_path):
    import pandas as pd

    from pipelines.ingestion.batches import Prepared
    from pipelines.ingestion.engine import Spooled, _read_rows, _write_rows

    rows = pd.DataFrame({"submission_id": pd.Series(["a", None], dtype="str"), "n": pd.array([1, None], "Int64"),
                         "when": pd.Series(pd.to_datetime(["2024-08-01", None])).dt.date.astype("date32[pyarrow]"),
                         "x": [0.1, float("nan")], "ok": [True, False]})
    for compression in (None, "lz4"):  # a local spool, a shared one
        prepared = Prepared(["a"], [None], {"a": None}, {}, rows.copy(), None, None)
        spooled = _write_rows(prepared, str(tmp_path), "batch", compression)
        assert isinstance(spooled, Spooled) and spooled.prepared.rows is None
        back = _read_rows(spooled)
        pd.testing.assert_frame_equal(back.rows.to_pandas(), rows, check_exact=True)
        assert list(tmp_path.iterdir()) == []


def test_a_scheduler_without_a_shared_spool_folder_is_refused_before_connecting(monkeypatch):
    from pipelines.ingestion.engine import DaskPool, EngineConfigError

    monkeypatch.setenv("KONVERGENSI_DASK_SCHEDULER", "tcp://127.0.0.1:1")  # nothing listens there
    monkeypatch.delenv("KONVERGENSI_SPOOL_DIR", raising=False)
    with pytest.raises(EngineConfigError, match="KONVERGENSI_SPOOL_DIR is not"):
        DaskPool(1, toy_parse, None)


def _worker_settings(dask_worker) -> dict:
    import dask

    return {"profile": dask.config.get("distributed.worker.profile.enabled"),
            "profile_callback": "profile" in dask_worker.periodic_callbacks,
            "tick": dask.config.get("distributed.admin.tick.interval")}


def test_embedded_workers_run_without_the_dashboard_profiler():
    """The embedded workers do not sample their task thread's stack (a profiler for Dask's dashboard,
    which takes the GIL from the parser 100 times a second)."""
    from pipelines.ingestion.engine import DaskPool

    pool = DaskPool(1, toy_parse, None)
    try:
        seen = list(pool._client.run(_worker_settings).values())
    finally:
        pool.close()
    assert seen == [{"profile": False, "profile_callback": False, "tick": "1s"}]


def _allocator_environ():
    import pyarrow as pa

    return {**{k: os.environ.get(k) for k in ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "OMP_NUM_THREADS")},
            "arrow_pool": pa.default_memory_pool().backend_name}


def test_embedded_workers_keep_glibc_s_dynamic_mmap_threshold_bounded():
    """Not Dask's MALLOC_TRIM_THRESHOLD_=65536, which pins glibc's mmap threshold at 128 KB (every
    column array a fresh, zero-filled mapping); its other settings are kept. Started by the early
    warm-up (the fork server the workers come from keeps the environment it started with)."""
    from multiprocessing import forkserver

    from pipelines.ingestion.embedded import warm_up
    from pipelines.ingestion.engine import DaskPool

    warm_up()
    assert forkserver._forkserver._forkserver_pid is not None  # running before any cluster exists
    pool = DaskPool(1, toy_parse, None)
    try:
        seen = list(pool._client.run(_allocator_environ).values())
    finally:
        pool.close()
    assert seen == [{"MALLOC_TRIM_THRESHOLD_": str(128 << 20), "MALLOC_MMAP_THRESHOLD_": str(32 << 20),
                     "OMP_NUM_THREADS": "1", "arrow_pool": "system"}]


def _rows_batch(stream: str, n: int, rows: int) -> list[Pending]:
    name = f"36.01.01.{2001 + n}_2024.csv"
    content = ("\n".join([f"@36.01.01.{2001 + n} 2024-08"] + [str(n)] * rows)).encode()
    return [Pending(Incoming(stream, name, "landing", None, lambda c=content: c), content, "sha", f"{stream}-{n}")]


def test_a_stream_s_last_short_batch_joins_the_batch_before_it(monkeypatch):
    """A batch under a row group that follows a full one (a stream's remainder) is committed with
    it once nothing more is coming, instead of alone through DuckDB's WAL; a full batch after a
    full one still commits on its own, prepared once."""
    from pipelines.ingestion import workers

    monkeypatch.setattr(workers, "ROW_GROUP_ROWS", 5)
    for sizes, expected in (([6, 6, 2], [[0], [1, 2]]), ([6, 6], [[0], [1]])):
        batches = [_rows_batch("households", n, rows) for n, rows in enumerate(sizes)]
        committed = []

        def commit(batch, prepared, committed=committed):
            committed.append(([p.sid for p in batch], 0 if prepared.rows is None else len(prepared.rows)))

        with InOrder(1, toy_parse, None, commit) as queue:
            for b in batches:
                queue.put(b)
            queue.finish()
        sids = [b[0].sid for b in batches]
        assert [c[0] for c in committed] == [[sids[i] for i in group] for group in expected], sizes
        assert [c[1] for c in committed] == [sum(sizes[i] for i in group) for group in expected], sizes


def test_a_cluster_whose_workers_never_come_back_does_not_hold_the_run(monkeypatch, caplog):
    """A nanny that cannot start its worker again (Dask logs "Failed to restart worker after its process
    exited" and leaves it dead) once held a batch's wait for ever: a CI run hung 85 minutes on the test
    above. Once the cluster has had no worker for the no-worker timeout, the batches are prepared here."""
    from distributed import nanny

    batches = [_batch(n) for n in range(4)]
    expected, _ = _run(0, batches)
    monkeypatch.setenv("KONVERGENSI_NO_WORKER_TIMEOUT_S", "2")
    broken: list[bool] = []
    instantiate = nanny.Nanny.instantiate

    async def cannot_restart(self):
        if broken:
            raise RuntimeError("the worker process could not be started (this test)")
        return await instantiate(self)

    monkeypatch.setattr(nanny.Nanny, "instantiate", cannot_restart)
    committed = []
    with caplog.at_level(logging.WARNING, logger="pipelines.ingestion.engine"):
        with InOrder(2, _dies_in_a_worker, None, lambda b, p: committed.append(([x.sid for x in b], p.results))) as q:
            for b in batches:
                q.put(b)
                broken.append(True)  # the workers started; none comes back once it dies
            q.finish()
    assert _flat(committed) == _flat(expected)
    assert any("has had no worker for" in r.getMessage() for r in caplog.records)


def test_a_cluster_that_does_not_close_does_not_hold_the_step(monkeypatch, caplog):
    """Closing the embedded cluster is bounded: a nanny that never finishes closing (as one restarting
    a worker at that moment can) costs two bounded attempts, then its worker process is killed."""
    import asyncio

    from distributed import nanny

    from pipelines.ingestion import engine

    batches = [_batch(n) for n in range(2)]
    expected, _ = _run(0, batches)
    monkeypatch.setattr(engine, "CLOSE_TIMEOUT_S", 1)
    pids = []

    async def never_closes(self, *args, **kwargs):
        await asyncio.sleep(3600)

    committed = []
    with caplog.at_level(logging.WARNING, logger="pipelines.ingestion.engine"):
        with InOrder(1, toy_parse, None, lambda b, p: committed.append(([x.sid for x in b], p.results))) as q:
            for b in batches:
                q.put(b)
            q.finish()
            pids = [n.pid for n in q._pool._cluster.workers.values()]
            monkeypatch.setattr(nanny.Nanny, "close", never_closes)
    assert _flat(committed) == _flat(expected) and len(pids) == 1
    messages = [r.getMessage() for r in caplog.records]
    assert sum("closing the embedded Dask cluster" in m for m in messages) == 2
    assert any(f"killed embedded Dask worker process {pids[0]}" in m for m in messages)
    for _ in range(100):  # the kill is delivered; the fork server reaps its child
        try:
            os.kill(pids[0], 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"worker {pids[0]} still alive")


def test_an_embedded_cluster_that_cannot_start_costs_speed_not_the_run(monkeypatch, caplog):
    """No worker comes up (the nanny cannot start its process): every batch is prepared here."""
    from distributed import nanny

    batches = [_batch(n) for n in range(3)]
    expected, _ = _run(0, batches)

    async def cannot_start(self):
        raise RuntimeError("the worker process could not be started (this test)")

    monkeypatch.setattr(nanny.Nanny, "instantiate", cannot_start)
    with caplog.at_level(logging.ERROR, logger="pipelines.ingestion.workers"):
        committed, pools = _run(2, batches)
    assert _flat(committed) == _flat(expected) and not any(pools)
    assert any("the embedded Dask cluster did not start" in r.getMessage() for r in caplog.records)


def test_the_early_fork_server_start_costs_the_command_no_heavy_import_and_exports_what_the_nanny_would():
    """``warm_up`` runs first in ``konvergensi run`` (before the night check): it imports neither
    Dask's ``distributed`` nor pandas in the command's process (0.5-0.7 s each on its critical
    path), and the worker environment it exports from ``distributed``'s defaults read without
    importing it is the one Dask's own config gives once ``distributed`` is imported."""
    import json
    import subprocess
    import sys

    script = (
        "import json, os, sys; from multiprocessing import forkserver\n"
        "from pipelines.ingestion.embedded import warm_up, QUIET_WORKER_CONFIG\n"
        "keys = ('MALLOC_TRIM_THRESHOLD_', 'MALLOC_MMAP_THRESHOLD_', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS', "
        "'OPENBLAS_NUM_THREADS', 'ARROW_DEFAULT_MEMORY_POOL')\n"
        "warm_up()\n"
        "early = {'distributed': 'distributed' in sys.modules, 'pandas': 'pandas' in sys.modules,\n"
        "         'server': forkserver._forkserver._forkserver_pid is not None,\n"
        "         'environ': {k: os.environ.get(k) for k in keys}}\n"
        "import dask, distributed\n"
        "with dask.config.set(QUIET_WORKER_CONFIG):\n"
        "    nanny = {k: str(v) for k, v in dask.config.get('distributed.nanny.pre-spawn-environ').items()}\n"
        "print(json.dumps([early, nanny]))\n")
    env = {k: v for k, v in os.environ.items() if k not in (
        "KONVERGENSI_DASK_SCHEDULER", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "OMP_NUM_THREADS",
        "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "ARROW_DEFAULT_MEMORY_POOL")}
    env["KONVERGENSI_INGEST_WORKERS"] = "1"
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    early, nanny = json.loads(done.stdout.strip().splitlines()[-1])
    assert early["server"] and not early["distributed"] and not early["pandas"]
    assert early["environ"] == {k: nanny.get(k) for k in early["environ"]}
    assert early["environ"]["MALLOC_TRIM_THRESHOLD_"] == str(128 << 20)
