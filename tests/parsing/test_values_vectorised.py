"""The type-dispatched (vectorised) reading of native XLSX/JSON cells gives exactly what the plain
per-cell reading gives: the reference functions below are the per-cell implementations the
vectorised ones replaced, and every output (values, dtype, index, name) must stay identical."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pandas as pd
import pytest

from pipelines.parsing import dates as D
from pipelines.parsing import values as V


def ref_is_number(v: object) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)


def ref_one(v: object) -> object:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, dt.datetime):
        return v.date().isoformat()
    return str(v)


def ref_as_text(values: pd.Series) -> pd.Series:
    if values.dtype == object:
        values = values.map(ref_one)
    text = values.astype("str").str.strip()
    return text.where(text.ne("") & text.notna())


def ref_split_native(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    is_num = values.map(ref_is_number).astype(bool)
    numbers = pd.to_numeric(values.where(is_num), errors="coerce").astype("float64")
    text = ref_as_text(values.where(~is_num, None))
    return text, numbers


def ref_date_cells(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """The date cells' days as scan_dates reads them, and the column with them removed."""
    fixed = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[us]")
    is_dt = values.map(lambda v: isinstance(v, dt.date)).astype(bool)
    if is_dt.any():
        fixed[is_dt.to_numpy()] = pd.to_datetime(values[is_dt].map(
            lambda v: v.date() if isinstance(v, dt.datetime) else v)).astype("datetime64[us]").to_numpy()
    return fixed, values.where(~is_dt, None)


class Half(float):
    """A float subclass with its own text (handled per cell)."""

    def __str__(self) -> str:
        return "half" + float.__repr__(self)


CELLS = [
    "", " ", "  \t", "a", " a b ", "é", "３６０１", "\u00a0x\u00a0", "nan", "12,5", "a\x00", "YA", "2024-08-01",
    "01/08/2024", "45505",
    0, 1, -5, 45505, 3601012001, 2**53 + 1, 2**63 - 1, 2**63, 2**64 + 3, -2**70, 10**30,
    1.0, 2.5, -0.0, float("nan"), float("inf"), -float("inf"), 1e20, 1e-7, float(2**53 + 1), 2.0**63, 1e308, 5e-324,
    0.1 + 0.2, 45505.0, 45505.75, 3601012001.0, 123456789012345678.0,
    True, False,
    np.float64(1.0), np.float64(2.5), np.float64("nan"), np.float64(1e20), np.int64(7), np.int32(3), np.float32(0.1),
    np.uint64(2**64 - 1), np.bool_(True),
    dt.datetime(2024, 8, 1), dt.datetime(2024, 8, 1, 13, 45, 7, 12), dt.datetime(9999, 12, 31),
    pd.Timestamp("2024-08-05 10:00"), pd.Timestamp("2024-08-05 23:30", tz="Asia/Jakarta"),
    dt.date(2024, 8, 1), dt.time(13, 45), None, pd.NA, Half(3.0), Half(2.5), {"a": 1}, [1, 2],
]
# A column with one of these would make pd.to_numeric (old and new alike) raise; kept apart.
ONLY_TEXT_SAFE = [10**400]


def column(cells: list[object], rng: random.Random, n: int, name: str | None = "col") -> pd.Series:
    arr = np.empty(n, dtype=object)
    for i in range(n):
        arr[i] = rng.choice(cells)
    return pd.Series(arr, index=pd.Index(rng.sample(range(10 * n + 10), n)), name=name, dtype=object)


def columns() -> list[pd.Series]:
    rng = random.Random(20240801)
    every = np.empty(len(CELLS), dtype=object)
    for i, cell in enumerate(CELLS):  # every kind at least once, in order
        every[i] = cell
    out = [pd.Series([], dtype=object), pd.Series(every, dtype=object)]
    for n in (1, 3, 20, 5000):
        for _ in range(4):
            kinds = rng.sample(CELLS, rng.randint(1, 8))
            out.append(column(kinds, rng, n))
    out.append(column([1.0, 2.0, float("nan"), 36.5], rng, 5000))  # a numbers-only XLSX column
    out.append(column([dt.datetime(2024, 8, 1), None, dt.datetime(2023, 1, 31, 8, 0)], rng, 5000))
    out.append(column(CELLS, rng, 5000))
    return out


@pytest.mark.parametrize("values", columns())
def test_as_text_matches_per_cell_reference(values: pd.Series) -> None:
    pd.testing.assert_series_equal(V.as_text(values), ref_as_text(values), check_exact=True)


@pytest.mark.parametrize("values", columns())
def test_split_native_matches_per_cell_reference(values: pd.Series) -> None:
    text, numbers = V._split_native(values)
    ref_text, ref_numbers = ref_split_native(values)
    pd.testing.assert_series_equal(text, ref_text, check_exact=True)
    pd.testing.assert_series_equal(numbers, ref_numbers, check_exact=True)


def test_huge_int_text_and_overflow_like_reference() -> None:
    values = pd.Series(["x", 10**400, 2.5, None], dtype=object)
    pd.testing.assert_series_equal(V.as_text(values), ref_as_text(values), check_exact=True)
    with pytest.raises(OverflowError):
        ref_split_native(values)
    with pytest.raises(OverflowError):
        V._split_native(values)


@pytest.mark.parametrize("values", columns())
def test_scan_dates_reads_date_cells_like_reference(values: pd.Series) -> None:
    cells = D.scan_dates(values)
    fixed, rest = ref_date_cells(values)
    ref_rest = D.scan_dates(rest)  # the remaining cells are read from text and numbers alone
    is_dt = ~np.isnat(fixed)
    np.testing.assert_array_equal(cells.fixed[is_dt], fixed[is_dt])
    np.testing.assert_array_equal(cells.fixed[~is_dt], ref_rest.fixed[~is_dt])
    for part in ("first", "second", "year"):
        np.testing.assert_array_equal(getattr(cells, part), getattr(ref_rest, part))
    np.testing.assert_array_equal(cells.present, ref_rest.present | is_dt)


def test_cell_types_groups_positions_by_exact_type() -> None:
    cells = np.empty(7, dtype=object)
    cells[:] = ["a", 1.0, None, "b", True, np.float64(2.0), 1.5]
    groups = {t: at.tolist() for t, at in V.cell_types(cells)}
    assert groups == {str: [0, 3], float: [1, 6], type(None): [2], bool: [4], np.float64: [5]}
    assert V.cell_types(np.empty(0, dtype=object)) == []
