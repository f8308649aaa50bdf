"""The Dagster side of the monthly partition axis (the rules are in :mod:`pipelines.periods`)."""

from __future__ import annotations

import warnings

from dagster import BackfillPolicy, MonthlyPartitionsDefinition

from pipelines.periods import FIRST_MONTH, TIMEZONE, current_month, months_between

# Partitioned asset checks are "preview" in Dagster 1.13; we rely on them knowingly (a check of a
# partitioned asset must be partitioned too) and keep the warning out of every CLI run.
warnings.filterwarnings("ignore", message=r".*partitions_def on an AssetCheckSpec.*")
warnings.filterwarnings("ignore", message=r".*Parameter `backfill_policy`.*")

# end_offset=1: the current month is a partition (cadres upload during the weighing month).
MONTHLY = MonthlyPartitionsDefinition(start_date=FIRST_MONTH, fmt="%Y-%m", timezone=TIMEZONE, end_offset=1)
# A run over many months (a backfill, `konvergensi run`) is one run that handles the whole range.
SINGLE_RUN = BackfillPolicy.single_run()


def context_months(context) -> list[str] | None:
    """Months a Dagster asset or check execution covers (one partition key or a range); None
    when it runs unpartitioned (a test or an ad-hoc check run), meaning every month."""
    if context.has_partition_key_range or context.has_partition_key:
        rng = context.partition_key_range
        return months_between(rng.start, rng.end)
    return None


def latest_month(now=None) -> str:
    """The newest partition: the current month in Western Indonesia Time (end_offset=1)."""
    return current_month(now)
