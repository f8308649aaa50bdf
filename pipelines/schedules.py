"""Nightly schedule: 01:00 Western Indonesia Time, when no cadre is uploading."""

from dagster import DefaultScheduleStatus, ScheduleDefinition

nightly_schedule = ScheduleDefinition(
    name="nightly_0100_wib",
    job_name="nightly",
    cron_schedule="0 1 * * *",
    execution_timezone="Asia/Jakarta",
    default_status=DefaultScheduleStatus.STOPPED,
    description="Pull new submissions, rebuild, check and publish every night at 01:00 WIB.",
)
