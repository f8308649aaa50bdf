"""Cell parsers: decimals, amounts, booleans and enums (pipelines.parsing.values; dates: test_dates.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.parsing import values as V


def _s(*items, dtype="str"):
    return pd.Series(list(items), dtype=dtype)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("12,5", 12.5), ("12.5", 12.5), ("1.234,5", 1234.5), ("1,234.5", 1234.5), ("12.500.000", 12_500_000.0),
     ("-0,75", -0.75), (" 7 ", 7.0), ("45%", 45.0)],
)
def test_decimal_separators(text, expected):
    result, bad = V.parse_decimal(_s(text))
    assert result.iloc[0] == pytest.approx(expected)
    assert not bad.iloc[0]


def test_decimal_empty_is_missing_not_bad_and_garbage_is_bad():
    result, bad = V.parse_decimal(_s("", "abc", "1.2.3", None))
    assert result.isna().all()
    assert bad.tolist() == [False, True, True, False]


def test_zero_and_sentinel_become_null():
    result, bad = V.parse_decimal(_s("0", "3,2", "999.99", "999,99"), zero_is_null=True, sentinels=(999.99,))
    assert result.isna().tolist() == [True, False, True, True]
    assert not bad.any()


def test_amounts_read_single_dot_group_as_thousands():
    result, bad = V.parse_amount(_s("12.500.000", "Rp 12.500.000,00", "12500000", "12.500", "12,500,000"))
    assert result.tolist() == [12_500_000, 12_500_000, 12_500_000, 12_500, 12_500_000]
    assert not bad.any()


def test_xlsx_native_numbers_pass_through():
    result, bad = V.parse_decimal(pd.Series([12.5, 3, "4,5", None, True], dtype=object))
    assert result.iloc[:3].tolist() == [12.5, 3.0, 4.5]
    assert bad.tolist() == [False, False, False, False, True]


def test_int_rejects_fractions():
    result, bad = V.parse_int(_s("3", "2,5", "4.0"))
    assert result.iloc[0] == 3 and result.iloc[2] == 4
    assert bad.tolist() == [False, True, False]


def test_bool_words():
    result, bad = V.parse_bool(_s("Ya", "tidak", "Y", "t", "1", "0", "TRUE", "mungkin", ""))
    assert result.iloc[:7].tolist() == [True, False, True, False, True, False, True]
    assert bad.tolist() == [False] * 7 + [True, False]


def test_sex_and_measure_codes():
    sex, bad = V.parse_sex(_s("L", "p", "X", ""))
    assert sex.iloc[:2].tolist() == [1, 2] and bad.tolist() == [False, False, True, False]
    measure, bad = V.parse_measure(_s("Terlentang", "BERDIRI", "duduk"))
    assert measure.iloc[:2].tolist() == ["l", "h"] and bad.tolist() == [False, False, True]


def test_vectorised_path_on_many_rows():
    n = 50_000
    text = pd.Series(np.char.mod("%d,5", np.arange(n)), dtype="str")
    result, bad = V.parse_decimal(text)
    assert result.iloc[-1] == pytest.approx(n - 1 + 0.5) and not bad.any()
