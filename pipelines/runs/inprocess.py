"""The nightly job run in-process, as `konvergensi run`, the demo and the tests run it (the same
Dagster definitions and instance the UI shows, never a second path)."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

from pipelines import settings


def ensure_dagster_home() -> Path:
    """Runs are recorded in the same instance `make dev` shows (DAGSTER_HOME, default
    `.dagster_home` under the repo, telemetry off)."""
    home = Path(os.environ.get("DAGSTER_HOME") or settings.PROJECT_ROOT / ".dagster_home")
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    template = settings.PROJECT_ROOT / "dagster.yaml"
    if not target.exists() and template.exists():
        shutil.copyfile(template, target)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def run_pipeline(start: str | None = None, end: str | None = None, quiet: bool = False, as_of_only: bool = False):
    """Materialise the nightly job in-process, as one run over the months ``start``..``end``
    (default: every month from the first partition to this one, i.e. catch up on everything).
    ``as_of_only``: only the as-of date and what reads it (a quiet night on a new day), a run that
    covers no month."""
    ensure_dagster_home()
    settings.apply_env_defaults()
    if not as_of_only:
        from pipelines.ingestion.embedded import warm_up

        warm_up()  # the ingestion workers' fork server imports GX while the definitions load
    from pipelines.runs.startup import long_lived

    with long_lived():
        from dagster import DagsterInstance

        from pipelines.definitions import defs
        from pipelines.partitions import latest_month
        from pipelines.periods import FIRST_MONTH, range_tags
        from pipelines.runs.summary import RunSummary
        from pipelines.schedules import as_of_refresh_keys

        job = defs.resolve_job_def("nightly")
    start, end = start or FIRST_MONTH, end or latest_month()
    if start > end:
        raise ValueError(f"--from {start} is after --to {end}")
    run_config: dict = {}
    # The console shows warnings and the summary; every event is still in the Dagster instance (UI).
    run_config["loggers"] = {"console": {"config": {"log_level": os.environ.get("KONVERGENSI_LOG_LEVEL", "WARNING")}}}
    started = time.perf_counter()
    with DagsterInstance.get() as instance:
        from pipelines.runs.recovery import release_dead_runs

        for run_id in release_dead_runs(instance):
            print(f"konvergensi run: earlier run {run_id} had died; marked failed, its pool slot freed",
                  file=sys.stderr)
        # No run retries here: the daemon cannot relaunch an in-process run, and the operator who
        # typed the command sees its outcome at once (the nightly schedule catches up failed months).
        tags = {**({} if as_of_only else range_tags(start, end)), "dagster/max_retries": "0"}
        result = job.execute_in_process(instance=instance, run_config=run_config, raise_on_error=False, tags=tags,
                                        asset_selection=as_of_refresh_keys(defs.resolve_asset_graph()) if as_of_only else None)
    summary = RunSummary.from_result(result, defs, time.perf_counter() - started)
    if not quiet:
        print(summary.render())
    return summary
