"""The local instance's event log (pipelines/runs/event_log.py): the repository's dagster.yaml
loads it, and a run's events, materialisations and check results are stored and read back as
Dagster's own SQLite event log stores them, in the same files."""

from __future__ import annotations

import shutil

import dagster as dg

from pipelines.runs.event_log import MAX_OPEN_SHARDS, PooledSqliteEventLogStorage
from tests.paths import ROOT_DIR


@dg.asset(check_specs=[dg.AssetCheckSpec("positive", asset="numbers")])
def numbers():
    yield dg.MaterializeResult(metadata={"row_count": 3})
    yield dg.AssetCheckResult(check_name="positive", passed=True)


def _repository_instance_job(tmp_path, monkeypatch):
    """A one-asset job, with DAGSTER_HOME at ``tmp_path`` holding the repository's dagster.yaml."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    shutil.copyfile(ROOT_DIR / "dagster.yaml", tmp_path / "dagster.yaml")
    job = dg.define_asset_job("j", executor_def=dg.in_process_executor)
    return dg.Definitions(assets=[numbers], jobs=[job]).resolve_job_def("j")


def test_the_repository_instance_stores_and_reads_events_through_pooled_connections(tmp_path, monkeypatch):
    job = _repository_instance_job(tmp_path, monkeypatch)
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        run_ids = [job.execute_in_process(instance=instance).run_id for _ in range(MAX_OPEN_SHARDS + 2)]
        for run_id in run_ids:  # older runs' files were closed and open again on demand
            assert instance.get_run_stats(run_id).steps_succeeded == 1
        latest = instance.get_latest_materialization_event(dg.AssetKey("numbers"))
        assert latest.run_id == run_ids[-1]
        assert latest.asset_materialization.metadata["row_count"].value == 3
        check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey("numbers"), "positive")])
        assert next(iter(check.values())).run_id == run_ids[-1]
        assert len(instance.event_log_storage._engines) <= MAX_OPEN_SHARDS
    assert sorted(p.stem for p in (tmp_path / "history" / "runs").glob("*.db")) == sorted([*run_ids, "index"])


def test_a_watcher_sees_each_event_another_instance_writes_at_once(tmp_path):
    # The UI watches a run that a run worker writes. Writes now land in the run file's WAL; the
    # watcher must wake on them, not only when the main file is checkpointed.
    import logging
    import time

    from dagster._core.events.log import EventLogEntry

    writer = PooledSqliteEventLogStorage(str(tmp_path))
    watcher = PooledSqliteEventLogStorage(str(tmp_path))
    seen = []
    try:
        def store(message: str) -> None:
            writer.store_event(EventLogEntry(error_info=None, level=logging.INFO, user_message=message,
                                             run_id="r1", timestamp=time.time()))

        store("first")  # the run's file exists before the UI watches it
        watcher.watch("r1", None, lambda entry, cursor: seen.append(entry.user_message))
        for message in ("second", "third"):
            store(message)
            deadline = time.monotonic() + 5
            while message not in seen and time.monotonic() < deadline:
                time.sleep(0.05)
            assert message in seen
    finally:
        watcher.dispose()
        writer.dispose()


def test_wiping_the_instance_closes_and_deletes_the_run_files(tmp_path, monkeypatch):
    job = _repository_instance_job(tmp_path, monkeypatch)
    with dg.DagsterInstance.get() as instance:
        first = job.execute_in_process(instance=instance).run_id
        instance.wipe()
        assert not (tmp_path / "history" / "runs" / f"{first}.db").exists()
        second = job.execute_in_process(instance=instance).run_id
        assert instance.get_run_stats(second).steps_succeeded == 1
        assert instance.get_latest_materialization_event(dg.AssetKey("numbers")).run_id == second


def test_the_index_tables_dagster_asks_about_are_looked_up_once_they_exist(tmp_path):
    # Dagster asks whether the index has its check table before storing every check event; the
    # answer is remembered once yes (a new engine and a schema reflection each time cost a Banten
    # run ~1.4 s), asked again while no, and forgotten when the instance is wiped.
    storage = PooledSqliteEventLogStorage(str(tmp_path))
    assert storage.supports_asset_checks
    assert not storage.has_table("not_yet_there")
    with storage.index_connection() as conn:
        conn.exec_driver_sql("create table not_yet_there (x integer)")
    assert storage.has_table("not_yet_there")
    with storage.index_connection() as conn:
        conn.exec_driver_sql("drop table not_yet_there")
    assert storage.has_table("not_yet_there")  # remembered: Dagster never drops its tables
    storage.wipe()
    assert not storage.has_table("not_yet_there")
    assert storage.supports_asset_checks
    storage.dispose()
