"""Nightly schedule: 01:00 Western Indonesia Time, when no cadre is uploading.

It materialises the latest period, the current month (the month cadres are uploading into). Late
submissions for earlier months start their own runs from the sensors, which request exactly the
months that arrived; an older month can also be backfilled from the UI or `konvergensi run`.

A quiet night starts no run (:mod:`pipelines.quiet`): when nothing arrived for the month on the
portal or in the landing folder and nothing changed since the last publish, the tick is skipped and
says why in the UI. When only the date changed, it refreshes just the date-dependent marts
(overdue actions, target progress: :data:`AS_OF_REFRESH`) and publishes.

It also catches up: each earlier month whose newest run failed is requested again, a few per night
(:mod:`pipelines.catchup`), until a run over it succeeds or an operator sets aside what breaks it.
Catch-up requests do not depend on the quiet-night check.
"""

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)

from pipelines import tables
from pipelines.catchup import failed_months
from pipelines.partitions import latest_month

WHY_TAG = "konvergensi/why"
# What a quiet night whose only news is the date refreshes: the as-of date, the marts that read it
# (overdue actions, target progress), their checks, the publish and the report (docs/runbook.md).
AS_OF_REFRESH = AssetSelection.assets(tables.key("reference.run_date")).downstream()


def as_of_refresh_keys(asset_graph) -> list:
    """The asset keys of :data:`AS_OF_REFRESH` in ``asset_graph``, for a run request or an in-process run."""
    return sorted(AS_OF_REFRESH.resolve(asset_graph), key=lambda k: k.path)


@schedule(
    name="nightly_0100_wib",
    job_name="nightly",
    cron_schedule="0 1 * * *",
    execution_timezone="Asia/Jakarta",
    default_status=DefaultScheduleStatus.STOPPED,
    description="Every night at 01:00 WIB: pull new submissions of the current month, rebuild it, check, "
    "publish (skipped when nothing arrived and nothing changed; only the date-dependent marts when only "
    "the date did); and run again each earlier month whose last run failed.",
)
def nightly_schedule(context: ScheduleEvaluationContext):
    from pipelines.quiet import night_check

    month = latest_month(context.scheduled_execution_time)
    night = f"{context.scheduled_execution_time:%Y-%m-%d}"
    check = night_check([month], context.instance)
    requests = []
    if check.only_date:
        keys = as_of_refresh_keys(context.repository_def.asset_graph)
        requests.append(RunRequest(run_key=f"as-of-{night}", asset_selection=keys,
                                   tags={WHY_TAG: f"{month}: nothing new; the as-of date changed"}))
    elif not check.quiet:
        requests.append(RunRequest(run_key=f"nightly-{night}", partition_key=month,
                                   tags={WHY_TAG: check.message()[:200]}))
    for failed in failed_months(context.instance, "nightly", exclude=[month]):
        requests.append(RunRequest(run_key=f"catchup-{night}-{failed}", partition_key=failed,
                                   tags={"konvergensi/catch_up": "true"}))
    if not requests:
        return SkipReason(check.message())
    if check.quiet:
        context.log.info(check.message())
    return requests
