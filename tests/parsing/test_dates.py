"""Dates as the writer meant them (pipelines.parsing.dates): one slash order per file from all its
date columns, the period breaking a tie, day-first as the last resort; ``Usia Saat Ukur`` as days."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from pipelines.parsing import dates as D


def _s(*items, dtype="str"):
    return pd.Series(list(items), dtype=dtype)


def _orders(columns, periods=None, measured=1, n=1, groups=None):
    cells = [D.scan_dates(_s(*c)) for c in columns]
    groups = np.zeros(len(columns[0]), "int64") if groups is None else np.asarray(groups)
    return D.decide_orders(cells, groups, n, cells[measured] if measured is not None else None, periods)


def test_iso_serial_time_part_and_impossible_dates():
    parsed = D.parse_dates(_s("8/13/2024", "2024-08-01", "45505", "2/31/2024", "", "2024-08-01 00:00:00"))
    assert parsed.order == "mdy"  # 8/13: only month first makes sense
    got = parsed.values.tolist()
    assert got[:3] == [dt.date(2024, 8, 13), dt.date(2024, 8, 1), dt.date(2024, 8, 1)]
    assert got[5] == dt.date(2024, 8, 1)
    assert parsed.bad.tolist() == [False, False, False, True, False, False]


def test_dates_from_xlsx_cells():
    cells = pd.Series([45505, 45505.0, dt.datetime(2024, 8, 1, 9, 30), dt.date(2024, 8, 1), None, 2.5],
                      dtype=object)
    parsed = D.parse_dates(cells)
    assert parsed.values.tolist()[:4] == [dt.date(2024, 8, 1)] * 4
    assert parsed.bad.tolist() == [False, False, False, False, False, True]


def test_birth_dates_decide_the_order_of_the_measurement_dates():
    """A day-first file whose measurement days are all 12 or less: the birth dates' 15 and 23 say
    day first, and the measurement dates are read that way too (never per column)."""
    orders = _orders([["15/1/2023", "23/6/2022", "2/3/2021"], ["5/8/2024", "6/8/2024", "7/8/2024"]])
    assert orders.dmy.tolist() == [True]
    assert orders.warnings == ["slash dates read as dmy: 2 dates have a day above 12 first"]
    births = D.scan_dates(_s("15/1/2023", "2/3/2021"))
    assert births.read(np.array([True, True]))[0].tolist() == [dt.date(2023, 1, 15), dt.date(2021, 3, 2)]


def test_month_first_evidence_in_one_column_only():
    orders = _orders([["1/15/2023", "6/2/2022"], ["8/5/2024", "8/6/2024"]])
    assert orders.dmy.tolist() == [False] and orders.warnings == [None]


def test_contradictory_evidence_goes_to_the_majority_with_a_warning():
    orders = _orders([["15/1/2023", "23/6/2022", "1/30/2021"], ["5/8/2024", "6/8/2024", "7/8/2024"]])
    assert orders.dmy.tolist() == [True]
    assert "the majority" in orders.warnings[0] and "2 dates only make sense day first, 1 only month first" in (
        orders.warnings[0])


def test_no_evidence_the_period_decides():
    births, measured = ["1/2/2023", "3/4/2022"], ["5/8/2024", "6/8/2024"]
    assert _orders([births, measured], ["2024-08"]).dmy.tolist() == [True]  # 5 and 6 August
    assert _orders([births, measured], ["2024-05"]).dmy.tolist() == [False]  # 8 May, 8 June: one in May
    assert _orders([births, measured], ["2024-05"]).warnings == [None]


def test_no_evidence_and_no_period_the_dates_gather_in_one_month():
    """A file whose period its rows will tell: read so that the measurement dates fall in one month."""
    orders = _orders([["1/2/2023", "3/4/2022", "4/4/2022"], ["8/5/2024", "8/6/2024", "8/7/2024"]])
    assert orders.dmy.tolist() == [False]  # 5, 6, 7 August rather than 8 May, June, July


def test_nothing_decides_day_first_with_a_warning():
    orders = _orders([["1/2/2023"], ["8/8/2024"]], ["2024-08"])
    assert orders.dmy.tolist() == [True]
    assert "day first, the Indonesian convention" in orders.warnings[0]
    assert _orders([["2024-01-02"], ["2024-08-08"]]).warnings == [None]  # no slash date: nothing to say


def test_each_file_its_own_order():
    columns = [["15/1/2023", "1/15/2023"], ["5/8/2024", "8/5/2024"]]
    orders = _orders(columns, ["2024-08", "2024-08"], n=2, groups=[0, 1])
    assert orders.dmy.tolist() == [True, False]


def _days(years: int, months: int, days: int) -> int:
    """WHO's mean lengths, rounded half up."""
    return math.floor(years * 365.25 + months * 30.4375 + days + 0.5)


@pytest.mark.parametrize(("text", "days"), [
    ("0 Tahun - 8 Bulan - 15 Hari", _days(0, 8, 15)),
    ("1 Tahun - 0 Bulan - 0 Hari", 365),
    ("4 Tahun - 11 Bulan - 30 Hari", _days(4, 11, 30)),
    ("8 Bulan 15 Hari", 259),
    ("1 Th 2 Bl 3 Hr", _days(1, 2, 3)),
    ("2 tahun", 731),
    ("15 Hari", 15),
    ("", None), ("-", None), ("delapan bulan", None), ("12", None),
])
def test_age_at_measurement_as_days(text, days):
    got = D.parse_age_days(_s(text)).iloc[0]
    assert (None if pd.isna(got) else int(got)) == days


def test_age_text_agrees_with_the_dates_within_a_few_days():
    """The synthetic generator writes the calendar age as e-PPGBM does; over every birth day of
    five years the day count stays within 4 days of measurement minus birth."""
    from pipelines.synthetic.generate_children import _age_text

    measured = np.datetime64("2024-08-15")
    birth = measured - np.arange(0, 1827).astype("timedelta64[D]")
    stated = D.parse_age_days(pd.Series(_age_text(birth, np.full(len(birth), measured)), dtype="str"))
    diff = np.abs(stated.to_numpy(dtype="int64") - (measured - birth).astype(int))
    assert diff.max() <= 4
