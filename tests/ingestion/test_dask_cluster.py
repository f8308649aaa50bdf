"""Ingestion on a real Dask cluster: ``dask scheduler`` and two ``dask worker`` processes started
here, separate from the run, as an operator starts them (docs/deploy.md).

A two-province month (the national layout, one village per district: ``national-sample``) runs
through ``konvergensi run`` in a child process, once in-process (no workers) and once on the
cluster (``KONVERGENSI_DASK_SCHEDULER``, a shared ``KONVERGENSI_SPOOL_DIR``): the marts are equal,
row for row (run ids and timestamps aside). Then a worker is killed (SIGKILL, nanny and all) while
it holds a batch: the run still ends well, with the same marts.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.paths import ROOT_DIR
from tests.runs.test_reliability import digest

pytest.importorskip("distributed")

pytestmark = pytest.mark.slow

MONTH = "2024-08"
KEY = "dask-cluster-test-key-0123456789abcdefgh"
START_TIMEOUT_S = 120
RUN_TIMEOUT_S = 900


def _env(**extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KONVERGENSI_", "DASK_"))}
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Cluster:
    """A scheduler and ``n`` workers (one process and one thread each, with their nannies), each in
    its own process group."""

    def __init__(self, root: Path, n: int = 2) -> None:
        self.root = root
        self.file = root / "scheduler.json"
        root.mkdir(parents=True, exist_ok=True)
        self.scheduler = self._start("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                     "--scheduler-file", str(self.file))
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.file.exists():
            assert self.scheduler.poll() is None, self._log("scheduler")
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.2)
        self.address = json.loads(self.file.read_text())["address"]
        self.workers = [self._start(f"worker{i}", "worker", "--scheduler-file", str(self.file), "--nthreads", "1",
                                    "--nworkers", "1", "--no-dashboard", "--name", f"w{i}", "--host", "127.0.0.1")
                        for i in range(n)]
        self.wait_for_workers(n)

    def _start(self, log_name: str, *args: str) -> subprocess.Popen:
        if args[0] != "worker":
            args = ("scheduler", *args)
        log = open(self.root / f"{log_name}.log", "w")  # noqa: SIM115 - closed with the process
        return subprocess.Popen([sys.executable, "-m", "dask", *args], cwd=ROOT_DIR, env=_env(),
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def _log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text()[-3000:]

    def client(self):
        from distributed import Client

        return Client(self.address, timeout=30, set_as_default=False)

    def wait_for_workers(self, n: int) -> None:
        with self.client() as client:
            client.wait_for_workers(n, timeout=START_TIMEOUT_S)

    def kill_worker(self, i: int) -> None:
        os.killpg(self.workers[i].pid, signal.SIGKILL)
        self.workers[i].wait(timeout=30)

    def close(self) -> None:
        for proc in [*self.workers, self.scheduler]:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in [*self.workers, self.scheduler]:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture(scope="module")
def two_provinces(tmp_path_factory) -> Path:
    from pipelines.synthetic.generate import generate

    out = tmp_path_factory.mktemp("two_provinces")
    summary = generate(out, scale="national-sample", provinces=2)
    assert summary["provinces"] == 2 and summary["child_measurements"]["rows"] > 50_000
    return out


def _start_run(root: Path, landing: Path, **extra) -> subprocess.Popen:
    (root / "home").mkdir(parents=True, exist_ok=True)
    (root / "home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = _env(DAGSTER_HOME=root / "home", KONVERGENSI_WAREHOUSE=root / "wh" / "banten.duckdb",
               KONVERGENSI_LANDING_DIR=landing, KONVERGENSI_REGION_MASTER=landing / "region_master.csv",
               KONVERGENSI_PSEUDONYM_KEY=KEY, KONVERGENSI_LANDING_SETTLE_SECONDS=0, KONVERGENSI_AS_OF_DATE="2024-09-15",
               KONVERGENSI_LOG_LEVEL="INFO", **extra)
    return subprocess.Popen([sys.executable, "-W", "ignore", "-m", "pipelines.cli", "run", "--period", MONTH],
                            cwd=ROOT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc: subprocess.Popen) -> str:
    out, _ = proc.communicate(timeout=RUN_TIMEOUT_S)
    assert proc.returncode == 0, out[-5000:]
    return out


@pytest.fixture(scope="module")
def in_process(two_provinces, tmp_path_factory) -> dict[str, str]:
    """The marts of the month run with no worker at all (the reference)."""
    root = tmp_path_factory.mktemp("in_process")
    _finish(_start_run(root, two_provinces, KONVERGENSI_INGEST_WORKERS=0))
    return digest(root / "wh" / "banten.duckdb")


def _tasks_per_worker(cluster: Cluster) -> dict[str, int]:
    with cluster.client() as client:
        return client.run(lambda dask_worker: dask_worker.state.transition_counter)


def test_a_two_province_month_on_two_real_workers_gives_the_marts_of_an_in_process_run(
        two_provinces, in_process, tmp_path):
    cluster = Cluster(tmp_path / "cluster")
    try:
        before = _tasks_per_worker(cluster)
        out = _finish(_start_run(tmp_path / "site", two_provinces, KONVERGENSI_DASK_SCHEDULER=cluster.address,
                                 KONVERGENSI_SPOOL_DIR=tmp_path / "spool"))
        after = _tasks_per_worker(cluster)
    finally:
        cluster.close()
    assert "a Dask worker died" not in out and "preparing it in the main process" not in out
    # both workers prepared batches
    assert all(after[w] > before[w] for w in after), (before, after)
    assert list((tmp_path / "spool").iterdir()) == []  # every spooled batch was read back and removed
    assert digest(tmp_path / "site" / "wh" / "banten.duckdb") == in_process


def test_a_worker_killed_while_it_holds_a_batch_loses_nothing(two_provinces, in_process, tmp_path):
    cluster = Cluster(tmp_path / "cluster")
    try:
        run = _start_run(tmp_path / "site", two_provinces, KONVERGENSI_DASK_SCHEDULER=cluster.address,
                         KONVERGENSI_SPOOL_DIR=tmp_path / "spool")
        killed = False
        with cluster.client() as client:
            deadline = time.monotonic() + RUN_TIMEOUT_S
            while run.poll() is None and time.monotonic() < deadline:
                busy = {w["name"] for w in client.scheduler_info(n_workers=-1)["workers"].values()
                        if w.get("metrics", {}).get("task_counts", {}).get("executing", 0)}
                processing = client.processing()
                names = {a: w["name"] for a, w in client.scheduler_info(n_workers=-1)["workers"].items()}
                if "w0" in busy or any(names.get(a) == "w0" and tasks for a, tasks in processing.items()):
                    cluster.kill_worker(0)
                    killed = True
                    break
                time.sleep(0.02)
        out = _finish(run)
    finally:
        cluster.close()
    assert killed, "worker w0 never held a batch"
    assert "a Dask worker died with a batch" in out
    assert digest(tmp_path / "site" / "wh" / "banten.duckdb") == in_process
