"""Catch-up: a month whose newest finished run failed is requested again by the nightly schedule,
night after night, until a run over it succeeds or an operator sets aside what breaks it
(docs/runbook.md).

Which months a run covered is read from its tags: ``dagster/partition`` (a schedule run) or the
single-run range tags (sensor runs, backfills, ``konvergensi run``). The newest finished run that
covers a month decides for it, so a later success (a rerun of that month alone, or a wider run)
clears an earlier failure. A failure that Dagster's run retries will still retry
(``dagster/will_retry``) is left to them, and a month a queued or running run already covers is left
alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from pipelines.periods import RANGE_END_TAG, RANGE_START_TAG, months_between

PARTITION_TAG = "dagster/partition"
WILL_RETRY_TAG = "dagster/will_retry"
# Months re-requested per tick: a month broken for weeks must not start a flood of runs.
MAX_CATCHUP_PER_TICK = 3
# Newest runs of the job looked at: about three months of nights, sensor runs and retries.
RUN_LOOKBACK = 300

_PENDING = {DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
            DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING}
_FAILED = {DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


@dataclass(frozen=True)
class RunOutcome:
    """One run, newest first in a list: its status name and the months it covered."""

    status: str  # "pending", "failed", "retrying" or "succeeded"
    months: tuple[str, ...]


def run_months(tags: dict[str, str]) -> tuple[str, ...]:
    """Months a run covered, from its tags (none for a run that names no partition)."""
    if tags.get(PARTITION_TAG):
        return (tags[PARTITION_TAG],)
    start, end = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    if start and end:
        try:
            return tuple(months_between(start, end))
        except ValueError:
            return ()
    return ()


def months_to_catch_up(runs_newest_first: Iterable[RunOutcome], exclude: Iterable[str] = (),
                       limit: int = MAX_CATCHUP_PER_TICK) -> list[str]:
    """Months whose deciding run failed, oldest first, at most ``limit``. The deciding run of a
    month is the newest run covering it; a pending or retrying run decides "leave it"."""
    decided: dict[str, str] = {}
    for run in runs_newest_first:
        for month in run.months:
            decided.setdefault(month, run.status)
    skip = set(exclude)
    failed = sorted(m for m, status in decided.items() if status == "failed" and m not in skip)
    return failed[:limit]


def outcome(record) -> RunOutcome:
    run = record.dagster_run
    if run.status in _PENDING:
        status = "pending"
    elif run.status in _FAILED:
        status = "retrying" if run.tags.get(WILL_RETRY_TAG) == "true" else "failed"
    else:
        status = "succeeded"
    return RunOutcome(status, run_months(run.tags))


def failed_months(instance: DagsterInstance, job_name: str, exclude: Iterable[str] = (),
                  limit: int = MAX_CATCHUP_PER_TICK) -> list[str]:
    """Months of ``job_name`` whose newest run failed (see the module docstring)."""
    records = instance.get_run_records(filters=RunsFilter(job_name=job_name), limit=RUN_LOOKBACK)
    return months_to_catch_up((outcome(r) for r in records), exclude, limit)
