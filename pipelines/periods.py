"""One partition axis: the reporting month (``YYYY-MM``, Western Indonesia Time).

Why one monthly axis and not month/quarter/year side by side: the province reviews stunting
every month, and the measurement chain (raw child measurements -> staging -> z-scores ->
``marts.fct_child_measurement``) is the only part big enough to be worth rebuilding piecewise.

* A month partition **lands** every submission whose reporting period covers that month: the
  month itself for e-PPGBM measurements, its quarter for scorecards and OPD reports, its year for
  households, aksi, lokus and survey figures. Landing is idempotent by submission id, so the three
  months of a quarter picking up the same OPD report cost nothing and never duplicate it.
* The measurement chain is **replaced** per month: rerunning 2024-07 deletes and rebuilds exactly
  the 2024-07 rows of those tables, and leaves every other month as it was.
* Everything downstream of that (prevalence, scorecards, target progress) is a small aggregate over
  all months and is rebuilt whole in every run, so a backfill of a past month shows up in trends.

Files refused for their name and periods before the first partition are landed (or quarantined)
by every run, so nothing waits for a partition that does not exist. A file whose name tells no
period is parsed by every run and lands in the first run whose months cover the period its rows
tell (docs/ingestion.md). The helpers here are pure (no Dagster); :mod:`pipelines.partitions` holds the Dagster objects.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import time
from collections.abc import Iterable

FIRST_MONTH = "2021-01"  # Perpres 72/2021: the national stunting strategy and its e-PPGBM reporting
# The "month" of a file whose period only its rows will tell: a sensor asks for every month.
ALL_MONTHS = "*"
TIMEZONE = "Asia/Jakarta"

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")


def months_between(start: str, end: str) -> list[str]:
    """``YYYY-MM`` months from ``start`` to ``end`` inclusive."""
    (y, m), (y2, m2) = (_ym(start), _ym(end))
    out = []
    while (y, m) <= (y2, m2):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _ym(month: str) -> tuple[int, int]:
    hit = _MONTH.match(month)
    if not hit:
        raise ValueError(f"{month!r} is not a month like 2024-08")
    return int(hit[1]), int(hit[2])


def period_months(period: str) -> list[str]:
    """The months a reporting period covers (a month, ``YYYY-Qn`` or ``YYYY``)."""
    if _MONTH.match(period):
        return [period]
    if hit := _QUARTER.match(period):
        first = 3 * (int(hit[2]) - 1) + 1
        return [f"{hit[1]}-{m:02d}" for m in range(first, first + 3)]
    if hit := _YEAR.match(period):
        return [f"{hit[1]}-{m:02d}" for m in range(1, 13)]
    raise ValueError(f"{period!r} is not a month, quarter or year")


def covering_periods(months: Iterable[str]) -> set[str]:
    """Every period label (month, quarter, year) that covers at least one of ``months``."""
    out: set[str] = set()
    for month in months:
        y, m = _ym(month)
        out |= {month, f"{y}-Q{(m - 1) // 3 + 1}", str(y)}
    return out


def current_month(now: dt.datetime | None = None) -> str:
    """This month in Western Indonesia Time (UTC+7, no daylight saving)."""
    now = now or dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    local = now.astimezone(dt.timezone(dt.timedelta(hours=7)))
    return f"{local.year:04d}-{local.month:02d}"


def as_of_date(override: str | None = None, now: dt.datetime | None = None) -> dt.date:
    """The date the marts are "as of" (overdue actions): ``override`` (``YYYY-MM-DD``, from
    KONVERGENSI_AS_OF_DATE) when given, else today in Western Indonesia Time."""
    if override and override.strip():
        try:
            return dt.date.fromisoformat(override.strip())
        except ValueError as exc:
            raise ValueError(f"KONVERGENSI_AS_OF_DATE={override!r} is not a date YYYY-MM-DD") from exc
    now = now or dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    return now.astimezone(dt.timezone(dt.timedelta(hours=7))).date()


def partition_for_period(period: str | None, now: dt.datetime | None = None) -> str | None:
    """The month partition that lands a submission of ``period``: the period's first month that
    is a partition, or None when it has none (no period, before FIRST_MONTH, in the future).
    Submissions without a partition are picked up by every run."""
    if not period:
        return None
    try:
        months = period_months(period)
    except ValueError:
        return None
    last = current_month(now)
    for month in months:
        if FIRST_MONTH <= month <= last:
            return month
    return None


def wants(period: str | None, months: set[str] | None, now: dt.datetime | None = None) -> bool:
    """Whether a run over ``months`` (None = every month) lands a submission of ``period``."""
    if months is None:
        return True
    return _wants(period, frozenset(months), current_month(now) if now is not None else _this_month())


_THIS_MONTH: list = [float("-inf"), ""]  # (monotonic time it was read, the month)


def _this_month() -> str:
    """:func:`current_month` now, read at most once a second: the writer asks for every file it
    lists, twice (a national month's 250k files: ~25 us each to build the time zone and convert)."""
    now = time.monotonic()
    if now - _THIS_MONTH[0] >= 1.0:
        _THIS_MONTH[:] = [now, current_month()]
    return _THIS_MONTH[1]


@functools.lru_cache(maxsize=4096)
def _wants(period: str | None, months: frozenset[str], this_month: str) -> bool:
    # once per period, run and month: the writer asks for every file of a national month (250k)
    home = partition_for_period(period, dt.datetime.strptime(this_month + "-15", "%Y-%m-%d"))
    if home is None:
        return True
    return bool(set(period_months(period)) & months)


def range_tags(start: str, end: str) -> dict[str, str]:
    """Run tags that make one run cover the months ``start``..``end`` (single-run backfill)."""
    return {RANGE_START_TAG: start, RANGE_END_TAG: end}


def period_filter_sql(column: str, months: Iterable[str] | None) -> str:
    """``column in (...)`` for month periods (None: every month); the values are validated
    months, never user text."""
    if months is None:
        return "true"
    values = sorted(set(months))
    for v in values:
        _ym(v)
    return f"{column} in ({', '.join(repr(v) for v in values)})" if values else "false"


def covering_filter_sql(column: str, months: Iterable[str] | None) -> str:
    """``column`` is a period label (month, quarter or year) covering one of ``months`` (None:
    any period, including none)."""
    if months is None:
        return "true"
    labels = sorted(covering_periods(months))
    return f"{column} in ({', '.join(repr(v) for v in labels)})" if labels else "false"
