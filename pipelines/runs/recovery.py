"""Runs that died without saying so (SIGKILL, power cut, OOM killer) leave two things behind in
the Dagster instance: a run shown as STARTED for ever, and the slot it held in the
``duckdb_warehouse`` pool, which would block every later run's warehouse steps.

Before a CLI run starts, :func:`release_dead_runs` finds runs recorded as started whose process
(the pid in their own events, on this host) no longer exists, marks them failed and frees their
pool slots. Under ``dagster-daemon``, run monitoring does the same for launched runs
(``run_monitoring`` in dagster.yaml).
"""

from __future__ import annotations

import os
from pathlib import Path

# A run whose events carry no pid yet is left alone until it is this old (it may be starting).
NO_PID_GRACE_S = 600


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():  # a recycled pid belongs to something else: not our run
        return b"python" in cmdline.read_bytes() or b"dagster" in cmdline.read_bytes()
    return True


def _run_pid(instance, run_id: str) -> int | None:
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is not None and event.pid:
            return int(event.pid)
    return None


def release_dead_runs(instance, now: float | None = None) -> list[str]:
    """Mark runs whose process is gone as failed and free their pool slots; their ids."""
    import time

    from dagster import DagsterRunStatus, RunsFilter

    now = now or time.time()
    released = []
    for run in instance.get_runs(filters=RunsFilter(statuses=[DagsterRunStatus.STARTED, DagsterRunStatus.STARTING])):
        pid = _run_pid(instance, run.run_id)
        if pid is None:
            record = instance.get_run_record_by_id(run.run_id)
            started = record.create_timestamp.timestamp() if record else now
            if now - started < NO_PID_GRACE_S:
                continue
        elif process_alive(pid):
            continue
        instance.report_run_failed(run, f"run process {pid or '?'} is gone (killed or crashed); marked failed "
                                        "so that its warehouse pool slot is freed")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        released.append(run.run_id)
    return released
