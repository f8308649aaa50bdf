"""Dates as the writer meant them: one slash order per file, and ages as e-PPGBM writes them.

A CSV date ``05/08/2024`` is 5 August or 8 May, and nothing in the cell says which: e-PPGBM's CSV
export writes month first (Excel's US locale, DOMAIN.md §4), people retyping or re-saving a sheet
in Indonesia write day first. A file is written one way, so the order is decided once per file
from every date column of the stream together (birth and measurement dates alike), never per
column (:func:`decide_orders`):

1. **Evidence.** A cell whose first part is above 12 can only be day-first; one whose second part
   is above 12 only month-first. Evidence one way decides. Evidence both ways: the majority, with a
   warning (the minority cells then fail as ``invalid_date``); a tie falls through to 2.
2. **The period.** No evidence (every part 12 or less): the order under which more measurement
   dates fall in the submission's period (its name's, or the portal's). A file whose period is not
   known yet (it will be derived from these dates): the order under which more measurement dates
   fall in one month, the month that then becomes its period.
3. **Day-first**, the Indonesian convention, with a warning, when neither decides.

Other cells need no order: ISO ``yyyy-mm-dd``, Excel serials (1900 system), XLSX date cells. A time
part is ignored; 2-digit years mean 20yy; an impossible date (``2/31/2024``) is bad.

``Usia Saat Ukur`` ("0 Tahun - 8 Bulan - 15 Hari", also "8 Bulan 15 Hari", "1 Th 2 Bl 3 Hr") becomes
a day count with WHO's mean lengths, 365.25 days a year and 30.4375 a month (DOMAIN.md §3: months =
days / 30.4375): comparable with measurement date minus birth date to within about 4 days for any
calendar age under 5 years, far inside the 31 days fct_growth_data_quality tolerates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.parsing.values import _DATE, _objects, _plain_to_float, _split_native, arrow_values, cell_types

DATE_DTYPE = pd.ArrowDtype(pa.date32())
# Excel's 1900 date system (with its fictitious 1900-02-29): serial 45505 = 2024-08-01.
_EXCEL_EPOCH = np.datetime64("1899-12-30")
_SERIAL_RANGE = (10_000, 100_000)  # 1927-05-18 .. 2173-10-14: anything else is not a date here
_YEAR_RANGE = (1900, 2100)
DAYS_PER_YEAR, DAYS_PER_MONTH = 365.25, 30.4375
ORDER_NAMES = {True: "dmy", False: "mdy"}


def _from_parts(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """datetime64[us] from float parts, NaT where a part is missing or impossible (2/31)."""
    ok = (year >= _YEAR_RANGE[0]) & (year <= _YEAR_RANGE[1]) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= 31)
    y = np.where(ok, year, 2000).astype("int64")
    m = np.where(ok, month, 1).astype("int64")
    d = np.where(ok, day, 1).astype("int64")
    first = (y - 1970) * 12 + (m - 1)
    start = first.astype("datetime64[M]").astype("datetime64[D]")
    out = start + (d - 1).astype("timedelta64[D]")
    # Day beyond the month's end rolls into the next month: that is an impossible date.
    ok &= out.astype("datetime64[M]") == start.astype("datetime64[M]")
    return np.where(ok, out, np.datetime64("NaT")).astype("datetime64[us]")


def _numbers(struct: pa.Array, i: int) -> np.ndarray:
    """Group ``i`` of an ``extract_regex`` result as floats, NaN where absent or empty."""
    field = pc.struct_field(struct, [i])
    field = pc.if_else(pc.equal(field, ""), pa.scalar(None, pa.string()), field)
    return pc.cast(field, pa.float64()).to_numpy(zero_copy_only=False).astype("float64")


def _extract_numbers(text: pd.Series, pattern: str, n_groups: int = 3) -> list[np.ndarray]:
    """Named groups of ``pattern`` as float arrays (NaN where no match). Runs pyarrow's RE2 over the
    whole column; pandas' ``str.extract`` calls Python's ``re`` once per cell."""
    struct = pc.extract_regex(pa.array(text.astype("str").array), pattern)
    return [_numbers(struct, i) for i in range(n_groups)]


@dataclass(frozen=True)
class DateCells:
    """One date column scanned once: every cell that needs no order already read (``fixed``), the
    parts of the slash cells kept until the file's order is decided."""

    index: pd.Index
    fixed: np.ndarray  # datetime64[us]: XLSX dates, serials and ISO dates; NaT elsewhere
    first: np.ndarray  # parts of a/b/yyyy cells (float, NaN where the cell is not one)
    second: np.ndarray
    year: np.ndarray
    present: np.ndarray  # bool: the cell held something

    @property
    def slash(self) -> np.ndarray:
        return ~np.isnan(self.first)

    def month_key(self, dmy: bool) -> np.ndarray:
        """``year * 12 + month - 1`` of each slash cell read one way (-1 where impossible)."""
        month, day = (self.second, self.first) if dmy else (self.first, self.second)
        ok = self.slash & (month >= 1) & (month <= 12) & (day >= 1) & (day <= 31)
        return np.where(ok, np.nan_to_num(self.year) * 12 + np.nan_to_num(month) - 1, -1).astype("int64")

    def read(self, dmy: np.ndarray) -> tuple[pd.Series, pd.Series]:
        """``(dates, bad)`` with every slash cell read day-first where ``dmy`` (one flag per cell)."""
        result = self.fixed.copy()
        s = self.slash
        if s.any():
            d, first, second = dmy[s], self.first[s], self.second[s]
            result[s] = _from_parts(self.year[s], np.where(d, second, first), np.where(d, first, second))
        dates = pd.Series(pa.array(result.astype("datetime64[D]"), type=pa.date32(), mask=np.isnat(result)),
                          index=self.index, dtype=DATE_DTYPE)
        return dates, pd.Series(self.present & np.isnat(result), index=self.index)


def iso_text(dates: pd.Series) -> pd.Series:
    """Dates as ISO text (``2023-03-10``; NA stays NA), as ``dates.astype("str")`` gives them but
    cast by Arrow: pandas goes through one Python date object per cell (2 us a row)."""
    if isinstance(dates.dtype, pd.ArrowDtype) and pa.types.is_date(dates.dtype.pyarrow_dtype):
        return pd.Series(pc.cast(arrow_values(dates), pa.large_string()), index=dates.index, dtype="str")
    return dates.astype("str")


def scan_dates(values: pd.Series) -> DateCells:
    """Read what needs no order; keep the parts of ``a/b/yyyy`` cells (``/``, ``.`` or ``-``)."""
    fixed = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[us]")
    if values.dtype == object:
        cells = values.to_numpy()
        dated = [(t, at) for t, at in cell_types(cells) if issubclass(t, dt.date)]
        if dated:  # XLSX date cells: datetimes read as their date, dates as they are
            is_dt = np.zeros(len(cells), dtype=bool)
            days = np.empty(len(cells), dtype=object)
            for t, at in dated:
                is_dt[at] = True
                days[at] = _objects(map(_DATE, cells[at]), len(at)) if issubclass(t, dt.datetime) else cells[at]
            fixed[is_dt] = pd.to_datetime(pd.Series(days[is_dt], index=values.index[is_dt])
                                          ).astype("datetime64[us]").to_numpy()
            values = values.where(~is_dt, None)
    text, numbers = _split_native(values)
    timed = text.str.contains(r"[ T][0-9]{1,2}:[0-9]{2}", regex=True).fillna(False).astype(bool)
    if timed.any():  # the regex replace is slow: run it on the cells with a time part only
        text = text.copy()
        text[timed] = text[timed].str.replace(
            r"^([^ T]+)[ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?$", r"\1", regex=True)
    serial_text = text.str.fullmatch(r"[0-9]{5}(\.[0-9]+)?").fillna(False).astype(bool)
    numbers = numbers.where(~serial_text, _plain_to_float(text.where(serial_text))).to_numpy()
    serial_ok = (numbers >= _SERIAL_RANGE[0]) & (numbers < _SERIAL_RANGE[1])
    if serial_ok.any():
        days = np.floor(numbers[serial_ok]).astype("int64")
        fixed[serial_ok] = (_EXCEL_EPOCH + days.astype("timedelta64[D]")).astype("datetime64[us]")
    iso = _extract_numbers(text, r"^(?P<g0>[0-9]{4})-(?P<g1>[0-9]{1,2})-(?P<g2>[0-9]{1,2})$")
    has_iso = ~np.isnan(iso[0])
    if has_iso.any():
        fixed[has_iso] = _from_parts(iso[0][has_iso], iso[1][has_iso], iso[2][has_iso])
    first, second, year = _extract_numbers(
        text, r"^(?P<g0>[0-9]{1,2})[/.-](?P<g1>[0-9]{1,2})[/.-](?P<g2>[0-9]{4}|[0-9]{2})$")
    year = np.where(year >= 100, year, year + 2000)
    present = text.notna().to_numpy() | ~np.isnan(numbers) | ~np.isnat(fixed)
    return DateCells(values.index, fixed, first, second, year, present)


@dataclass(frozen=True)
class Orders:
    """The slash order of each file (``dmy[f]``: day-first) and, per file, a warning or None."""

    dmy: np.ndarray
    warnings: list[str | None]

    @property
    def names(self) -> np.ndarray:
        return np.where(self.dmy, "dmy", "mdy").astype(object)


def _votes(columns: list[DateCells], groups: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per file: cells that can only be day-first, and cells that can only be month-first."""
    dmy, mdy = np.zeros(n, "int64"), np.zeros(n, "int64")
    for c in columns:
        dmy += np.bincount(groups[(c.first > 12) & (c.second <= 12)], minlength=n)
        mdy += np.bincount(groups[(c.second > 12) & (c.first <= 12)], minlength=n)
    return dmy, mdy


def _month_key(period: str | None) -> int:
    if period and len(period) == 7 and period[4] == "-":
        return int(period[:4]) * 12 + int(period[5:]) - 1
    return -1


def _fits(cells: DateCells, groups: np.ndarray, n: int, periods: list[str | None], dmy: bool) -> np.ndarray:
    """Per file: measurement dates that fall in its period read one way; for a file without a
    period, the most that fall in any one month."""
    key = cells.month_key(dmy)
    wanted = np.array([_month_key(p) for p in periods] or [-1], dtype="int64")[groups]
    ok = key >= 0
    fits = np.bincount(groups[ok & (wanted >= 0) & (key == wanted)], minlength=n)
    free = ok & (wanted < 0)
    if free.any():
        per_month = pd.DataFrame({"f": groups[free], "k": key[free]}).value_counts()
        best = per_month.groupby(level="f").max()
        fits[best.index.to_numpy()] = best.to_numpy()
    return fits


def decide_orders(columns: list[DateCells], groups: np.ndarray, n: int, measured: DateCells | None = None,
                  periods: list[str | None] | None = None) -> Orders:
    """The slash order of each of ``n`` files (``groups``: the file of each cell) from all its date
    ``columns`` together; ``measured`` (one of them) and ``periods`` break a tie (module docstring)."""
    dmy_votes, mdy_votes = _votes(columns, groups, n)
    has_slash = np.bincount(groups[np.logical_or.reduce([c.slash for c in columns])], minlength=n) > 0
    dmy = dmy_votes > mdy_votes
    undecided = dmy_votes == mdy_votes
    by_period = np.zeros(n, bool)
    if measured is not None and undecided.any():
        fit_dmy = _fits(measured, groups, n, periods or [None] * n, True)
        fit_mdy = _fits(measured, groups, n, periods or [None] * n, False)
        by_period = undecided & (fit_dmy != fit_mdy)
        dmy = np.where(by_period, fit_dmy > fit_mdy, dmy)
    default = undecided & ~by_period & has_slash
    dmy = np.where(default, True, dmy)
    contradictory = (dmy_votes > 0) & (mdy_votes > 0)
    warnings = [_warning(bool(dmy[f]), int(dmy_votes[f]), int(mdy_votes[f]), bool(default[f]), bool(by_period[f]),
                         bool(contradictory[f])) if has_slash[f] else None for f in range(n)]
    return Orders(dmy, warnings)


def _warning(dmy: bool, n_dmy: int, n_mdy: int, default: bool, by_period: bool, contradictory: bool) -> str | None:
    """What a file's reader should know about its order (None: month first, as e-PPGBM writes)."""
    order = ORDER_NAMES[dmy]
    if default:
        return (f"slash dates read as {order} (day first, the Indonesian convention): no date part is above 12 "
                "and the period does not tell the order")
    if contradictory:
        how = "the period decides the tie" if by_period else "the majority"
        return (f"slash dates read as {order} ({how}): {n_dmy} dates only make sense day first, {n_mdy} only "
                "month first; the others are rejected as invalid_date")
    if not dmy:
        return None
    if by_period:
        return "slash dates read as dmy: no date part is above 12; that way the measurement dates fit the period"
    return f"slash dates read as dmy: {n_dmy} dates have a day above 12 first"


@dataclass(frozen=True)
class ParsedDates:
    values: pd.Series  # date32[pyarrow]
    bad: pd.Series  # bool
    orders: np.ndarray  # per group (file): "mdy" or "dmy" - how its slash dates were read

    @property
    def order(self) -> str:
        """Order of the first (for an ungrouped column: the only) group."""
        return str(self.orders[0])


def parse_dates(values: pd.Series, groups: np.ndarray | None = None, n_groups: int = 1) -> ParsedDates:
    """One date column on its own (the order decided from this column alone, no period).

    Args:
        values: the column as read.
        groups: group (file) of each cell, in ``0..n_groups-1``; ``None``: one group.
        n_groups: number of groups.
    """
    groups = np.zeros(len(values), dtype="int64") if groups is None else groups
    cells = scan_dates(values)
    orders = decide_orders([cells], groups, n_groups)
    dates, bad = cells.read(orders.dmy[groups])
    return ParsedDates(dates, bad, orders.names)


_AGE_PATTERN = (
    r"(?i)^[ \t]*(?:(?P<y>[0-9]+)[ \t]*(?:tahun|thn|th|t)\b)?[ \t,;-]*"
    r"(?:(?P<m>[0-9]+)[ \t]*(?:bulan|bln|bl|b)\b)?[ \t,;-]*"
    r"(?:(?P<d>[0-9]+)[ \t]*(?:hari|hr|h)\b)?[ \t.]*$"
)


def parse_age_days(values: pd.Series) -> pd.Series:
    """``Usia Saat Ukur`` as whole days (``Int64``; NA when empty or not an age): years x 365.25 +
    months x 30.4375 + days, rounded (module docstring)."""
    text = _split_native(values)[0]
    years, months, days = _extract_numbers(text, _AGE_PATTERN)
    total = np.nan_to_num(years) * DAYS_PER_YEAR + np.nan_to_num(months) * DAYS_PER_MONTH + np.nan_to_num(days)
    stated = ~(np.isnan(years) & np.isnan(months) & np.isnan(days))
    return pd.Series(np.floor(total + 0.5), index=values.index).where(stated).astype("Int64")


def as_days(dates: pd.Series) -> np.ndarray:
    """A date32 Series as ``datetime64[D]`` (NaT where empty)."""
    return pa.array(dates.array).cast(pa.date32()).to_numpy(zero_copy_only=False).astype("datetime64[D]")


def month_keys(days: np.ndarray) -> np.ndarray:
    """``year * 12 + month - 1`` of ``datetime64[D]`` values (-1 where NaT)."""
    months = days.astype("datetime64[M]")
    return np.where(np.isnat(months), -1, months.astype("int64") + 1970 * 12).astype("int64")


def month_labels(keys: np.ndarray) -> pd.Series:
    """``YYYY-MM`` of each month key (:func:`month_keys`; NA for -1), formatted once per month."""
    distinct, codes = np.unique(keys, return_inverse=True)
    labels = np.array([f"{k // 12:04d}-{k % 12 + 1:02d}" if k >= 0 else None for k in distinct.tolist()], dtype=object)
    return pd.Series(labels[codes.reshape(-1)], dtype="str")


def period_month_key(period: str | None) -> int:
    """``year * 12 + month - 1`` of a ``YYYY-MM`` period (-1 for anything else)."""
    return _month_key(period)
