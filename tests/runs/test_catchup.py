"""Catch-up: the nightly schedule re-requests each earlier month whose newest run failed, a few per
night, until a run over it succeeds. Real runs in a real (ephemeral) Dagster instance."""

import datetime as dt

import pytest
from dagster import DagsterInstance, build_schedule_context, job, op

from pipelines.catchup import MAX_CATCHUP_PER_TICK, RunOutcome, months_to_catch_up, run_months
from pipelines.periods import range_tags
from pipelines.schedules import nightly_schedule


@op
def maybe_fail(context):
    if context.run.tags.get("test/fail") == "true":
        raise RuntimeError("this run fails on purpose")


@job(name="nightly")
def fake_nightly():
    """Stands in for the nightly job: the schedule looks at runs by job name and month tags."""
    maybe_fail()


def _run(instance, tags, fail):
    tags = {**tags, **({"test/fail": "true"} if fail else {})}
    result = fake_nightly.execute_in_process(instance=instance, tags=tags, raise_on_error=False)
    assert result.success is not fail


def _tick(instance, night="2024-09-15"):
    when = dt.datetime.fromisoformat(f"{night}T01:00:00+07:00")
    return nightly_schedule(build_schedule_context(instance=instance, scheduled_execution_time=when))


@pytest.fixture
def instance(tmp_path, isolated_env):
    # isolated_env: no warehouse yet, so the quiet-night check never skips the current month here
    # (tests/test_quiet_nights.py tests that part)
    with DagsterInstance.local_temp(str(tmp_path)) as inst:
        yield inst


def test_a_failed_month_is_requested_again_until_a_run_over_it_succeeds(instance):
    _run(instance, {"dagster/partition": "2024-05"}, fail=True)
    _run(instance, {"dagster/partition": "2024-06"}, fail=True)
    # July and June fail and then succeed in one wider run (a backfill, `konvergensi run`).
    _run(instance, {"dagster/partition": "2024-07"}, fail=True)
    _run(instance, range_tags("2024-06", "2024-07"), fail=False)
    # August failed, but Dagster's run retries still have it: left to them.
    _run(instance, {"dagster/partition": "2024-08", "dagster/will_retry": "true"}, fail=True)
    # The current month failed: the night's own run covers it anyway.
    _run(instance, {"dagster/partition": "2024-09"}, fail=True)

    requests = _tick(instance)
    assert [r.partition_key for r in requests] == ["2024-09", "2024-05"]
    assert requests[1].run_key == "catchup-2024-09-15-2024-05"

    _run(instance, {"dagster/partition": "2024-05"}, fail=False)
    assert [r.partition_key for r in _tick(instance, "2024-09-16")] == ["2024-09"]


def test_catch_up_is_bounded_per_night_oldest_first(instance):
    for month in ("2024-01", "2024-02", "2024-03", "2024-04", "2024-05"):
        _run(instance, {"dagster/partition": month}, fail=True)
    requests = _tick(instance)
    assert [r.partition_key for r in requests[1:]] == ["2024-01", "2024-02", "2024-03"][:MAX_CATCHUP_PER_TICK]


def test_the_newest_run_decides_and_pending_runs_leave_a_month_alone():
    runs = [
        RunOutcome("pending", ("2024-03",)),
        RunOutcome("succeeded", ("2024-01",)),
        RunOutcome("failed", ("2024-01", "2024-02", "2024-03")),
    ]
    assert months_to_catch_up(runs) == ["2024-02"]


def test_months_a_run_covered_come_from_its_tags():
    assert run_months({"dagster/partition": "2024-05"}) == ("2024-05",)
    assert run_months(range_tags("2024-11", "2025-01")) == ("2024-11", "2024-12", "2025-01")
    assert run_months({}) == ()
