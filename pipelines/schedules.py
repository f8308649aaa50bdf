"""Nightly schedule: 01:00 Western Indonesia Time, when no cadre is uploading.

It materialises the latest period, the current month (the month cadres are uploading into). Late
submissions for earlier months start their own runs from the sensors, which request exactly the
months that arrived; an older month can also be backfilled from the UI or `konvergensi run`.

It also catches up: each earlier month whose newest run failed is requested again, a few per night
(:mod:`pipelines.catchup`), until a run over it succeeds or an operator sets aside what breaks it.
"""

from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, schedule

from pipelines.catchup import failed_months
from pipelines.partitions import latest_month


@schedule(
    name="nightly_0100_wib",
    job_name="nightly",
    cron_schedule="0 1 * * *",
    execution_timezone="Asia/Jakarta",
    default_status=DefaultScheduleStatus.STOPPED,
    description="Every night at 01:00 WIB: pull new submissions of the current month, rebuild it, check, "
    "publish; and run again each earlier month whose last run failed.",
)
def nightly_schedule(context: ScheduleEvaluationContext):
    month = latest_month(context.scheduled_execution_time)
    night = f"{context.scheduled_execution_time:%Y-%m-%d}"
    requests = [RunRequest(run_key=f"nightly-{night}", partition_key=month)]
    for failed in failed_months(context.instance, "nightly", exclude=[month]):
        requests.append(RunRequest(run_key=f"catchup-{night}-{failed}", partition_key=failed,
                                   tags={"konvergensi/catch_up": "true"}))
    return requests
