"""Nightly schedule: 01:00 Western Indonesia Time, when no cadre is uploading.

It materialises the latest period, the current month (the month cadres are uploading into). Late
submissions for earlier months start their own runs from the sensors, which request exactly the
months that arrived; an older month can also be backfilled from the UI or `konvergensi run`.
"""

from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, schedule

from pipelines.partitions import latest_month


@schedule(
    name="nightly_0100_wib",
    job_name="nightly",
    cron_schedule="0 1 * * *",
    execution_timezone="Asia/Jakarta",
    default_status=DefaultScheduleStatus.STOPPED,
    description="Every night at 01:00 WIB: pull new submissions of the current month, rebuild it, check, publish.",
)
def nightly_schedule(context: ScheduleEvaluationContext):
    month = latest_month(context.scheduled_execution_time)
    return RunRequest(run_key=f"nightly-{context.scheduled_execution_time:%Y-%m-%d}", partition_key=month)
