"""WHO 2006 z-scores: oracle cases from WHO anthro, hand cases from anthro's rules, DuckDB load."""

from __future__ import annotations

import math
import re
from decimal import Decimal

import duckdb
import numpy as np
import pandas as pd
import pytest
from pygrowup.tables.by_day import lfa, wfa, wfh, wfl

from pipelines.growth import compute_zscores, lms_tables, load_into_duckdb
from pipelines.growth.rounding import r_round
from pipelines.growth.who_tables import lms_arrays
from tests.paths import SHARED

ORACLE_NAME = "who_anthro_documented_cases.csv"
ORACLE_CANDIDATES = [SHARED / "reference" / ORACLE_NAME]
SEX_NAMES = {1: "male", 2: "female"}
ANTHRO_NAMES = {"zlen": "haz", "zwei": "waz", "zwfl": "whz"}


# --- an independent, per-row reading of anthro 1.1.0, straight from pygrowup's Decimal dicts ---------


def _plain(y, lms):
    l, m, s = (float(lms[k]) for k in "lms")  # noqa: E741
    return ((y / m) ** l - 1) / (s * l)


def _restricted(y, l, m, s):  # noqa: E741
    z = ((y / m) ** l - 1) / (s * l)

    def sd(k):
        return m * (1 + l * s * k) ** (1 / l)

    if z > 3:
        return 3 + (y - sd(3)) / (sd(3) - sd(2))
    if z < -3:
        return -3 + (y - sd(-3)) / (sd(-2) - sd(-3))
    return z


def reference_row(sex, age, weight, lenhei, measure):
    """anthro_zscores() for one child, unrounded: (haz, waz, whz, c9mo)."""
    nan = float("nan")
    known = not math.isnan(age)
    if known and age < 0:
        return nan, nan, nan, False
    day = math.floor(age) + (1 if age - math.floor(age) >= 0.5 else 0) if known else None
    months = age / 30.4375 if known else None
    c9mo = measure == "h" and known and months < 9  # a property of the measurement, whatever the sex
    if sex not in SEX_NAMES:
        return nan, nan, nan, c9mo
    name = SEX_NAMES[sex]
    if c9mo:
        measure = None
    clen = lenhei
    if known and day < 731 and measure == "h":
        clen = lenhei + 0.7
    if known and day >= 731 and measure == "l":
        clen = lenhei - 0.7
    haz = waz = whz = nan
    if known and months < 60:
        if clen > 0:
            haz = _plain(clen, lfa.DATA[name][int(day)])
        if weight > 0:
            row = wfa.DATA[name][int(day)]
            waz = _restricted(weight, float(row["l"]), float(row["m"]), float(row["s"]))
    if known:
        table = "wfl" if day < 731 else "wfh"
    elif measure in ("l", "h"):
        table = "wfl" if measure == "l" else "wfh"
    elif not math.isnan(clen):
        table = "wfl" if clen < 87 else "wfh"
    else:
        table = None
    lo, hi, data = (45, 110, wfl.DATA) if table == "wfl" else (65, 120, wfh.DATA)
    if table and (not known or months < 60) and weight > 0 and lo <= clen <= hi:
        low = math.trunc(clen * 10) / 10
        upp = math.trunc(clen * 10 + 1) / 10
        diff = (clen - low) / 0.1
        lower = data[name][Decimal(str(low))]
        lms = []
        for k in "lms":
            value = float(lower[k])
            if diff > 0:
                value = value + diff * (float(data[name][Decimal(str(upp))][k]) - value)
            lms.append(value)
        whz = _restricted(weight, *lms)
    return haz, waz, whz, c9mo


def _z(sex, age, weight, lenhei, measure):
    return compute_zscores([sex], [age], [weight], [lenhei], [measure]).iloc[0]


# --- the WHO oracle ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def oracle() -> pd.DataFrame:
    for path in ORACLE_CANDIDATES:
        if path.exists():
            return pd.read_csv(path, keep_default_na=False, na_values=[""])
    pytest.skip(f"{ORACLE_NAME} not available")


def test_documented_anthro_cases_match_to_1e5(oracle):
    assert len(oracle) == 19
    got = compute_zscores(oracle.sex, oracle.age_days, oracle.weight_kg, oracle.lenhei_cm, oracle.measure)
    for col in ("haz", "waz", "whz"):
        expected = oracle[f"expected_{col}"].to_numpy(dtype=float)
        actual = got[f"{col}_unrounded"].to_numpy()
        assert np.array_equal(np.isnan(expected), np.isnan(actual)), col
        ok = ~np.isnan(expected)
        np.testing.assert_allclose(actual[ok], expected[ok], rtol=0, atol=1e-5, err_msg=col)
        # the package's own output is the expected value rounded to 2 decimals (SOURCE.md)
        np.testing.assert_array_equal(got[col].to_numpy(), r_round(expected), err_msg=col)


def test_documented_cases_rounded_as_the_documents_print_them(oracle):
    got = compute_zscores(oracle.sex, oracle.age_days, oracle.weight_kg, oracle.lenhei_cm, oracle.measure)
    printed = 0
    for i, note in enumerate(oracle.note):
        for name, value in re.findall(r"\b(zlen|zwei|zwfl)=(-?\d+\.\d\d)\b", note):
            assert got.loc[i, ANTHRO_NAMES[name]] == float(value), (i, note)
            printed += 1
    assert printed == 22


def test_documented_cases_flags(oracle):
    got = compute_zscores(oracle.sex, oracle.age_days, oracle.weight_kg, oracle.lenhei_cm, oracle.measure)
    haz, waz, whz = (r_round(oracle[f"expected_{c}"].fillna(0)) for c in ("haz", "waz", "whz"))
    assert got.flag_haz.tolist() == (np.abs(haz) > 6).tolist()
    assert got.flag_waz.tolist() == ((waz < -6) | (waz > 5)).tolist()
    assert got.flag_whz.tolist() == (np.abs(whz) > 5).tolist()
    # only the 8-month-old measured standing
    assert got.flag_c9mo.tolist() == [i == 12 for i in range(19)]


# --- hand cases from anthro's rules ---------------------------------------------------------------


def test_0_7_cm_rule_switches_between_730_and_731_days():
    lms730, lms731 = lfa.DATA["male"][730], lfa.DATA["male"][731]
    assert _z(1, 730, np.nan, 85.0, "h").haz_unrounded == pytest.approx(_plain(85.7, lms730), abs=1e-12)
    assert _z(1, 731, np.nan, 85.0, "h").haz_unrounded == pytest.approx(_plain(85.0, lms731), abs=1e-12)
    assert _z(1, 730, np.nan, 85.0, "l").haz_unrounded == pytest.approx(_plain(85.0, lms730), abs=1e-12)
    assert _z(1, 731, np.nan, 85.0, "l").haz_unrounded == pytest.approx(_plain(84.3, lms731), abs=1e-12)
    assert _z(1, 731, np.nan, 85.0, None).haz_unrounded == pytest.approx(_plain(85.0, lms731), abs=1e-12)


def test_standing_under_9_months_is_flagged_and_not_converted():
    # 9 months = 273.9375 days: day 273 is still under 9 months, day 274 is not.
    z273 = _z(2, 273, 7.5, 65.0, "h")
    z274 = _z(2, 274, 7.5, 65.0, "h")
    assert bool(z273.flag_c9mo) and not bool(z274.flag_c9mo)
    assert z273.haz_unrounded == pytest.approx(_plain(65.0, lfa.DATA["female"][273]), abs=1e-12)
    assert z274.haz_unrounded == pytest.approx(_plain(65.7, lfa.DATA["female"][274]), abs=1e-12)
    assert not np.isnan(z273.whz) and not np.isnan(z273.waz)
    assert not bool(_z(2, 273, 7.5, 65.0, "l").flag_c9mo)
    assert not bool(_z(2, np.nan, 7.5, 65.0, "h").flag_c9mo)


def test_scores_stop_after_1826_days():
    z = compute_zscores([1, 1], [1826, 1827], [18.0, 18.0], [110.0, 110.0], ["h", "h"])
    assert z.iloc[0][["haz", "waz", "whz"]].notna().all()
    assert z.iloc[1][["haz", "waz", "whz"]].isna().all()


def test_negative_age_missing_sex_and_zero_weight_give_no_score():
    z = compute_zscores([1, np.nan, 1], [-1, 400, 400], [9.0, 9.0, 0.0], [75.0, 75.0, 75.0], "l")
    assert z.iloc[0][["haz", "waz", "whz"]].isna().all()
    assert z.iloc[1][["haz", "waz", "whz"]].isna().all()
    assert np.isnan(z.iloc[2].waz) and np.isnan(z.iloc[2].whz) and not np.isnan(z.iloc[2].haz)


def test_whz_table_switches_at_731_days_without_fallback():
    z = compute_zscores(
        [2] * 6,
        [730, 731, 730, 731, 730, 731],
        [10.0, 10.0, 3.0, 3.0, 20.0, 20.0],
        [80.0, 80.0, 50.0, 50.0, 115.0, 115.0],
        ["l", "h", "l", "h", "l", "h"],
    )
    wfl80, wfh80 = wfl.DATA["female"][Decimal("80")], wfh.DATA["female"][Decimal("80")]
    exact = z.whz_unrounded
    assert exact[0] == pytest.approx(_restricted(10.0, *(float(wfl80[k]) for k in "lms")), abs=1e-12)
    assert exact[1] == pytest.approx(_restricted(10.0, *(float(wfh80[k]) for k in "lms")), abs=1e-12)
    assert exact[0] != pytest.approx(exact[1], abs=1e-3)
    assert not np.isnan(z.whz[2]) and np.isnan(z.whz[3])  # 50 cm: in the length table only
    assert np.isnan(z.whz[4]) and not np.isnan(z.whz[5])  # 115 cm: in the height table only


def test_whz_without_age_uses_measure_then_87_cm():
    z = compute_zscores([1] * 4, np.nan, 12.0, [86.9, 87.0, 87.0, 86.9], [None, None, "l", "h"])
    assert z[["haz", "waz"]].isna().all().all()
    for i, table, cm in ((0, wfl, "86.9"), (1, wfh, "87"), (2, wfl, "87"), (3, wfh, "86.9")):
        row = table.DATA["male"][Decimal(cm)]
        assert z.whz_unrounded[i] == pytest.approx(_restricted(12.0, *(float(row[k]) for k in "lms")),
                                                   abs=1e-12)
    # just under 87 cm still reads the length table, like a child measured lying
    near = compute_zscores(1, np.nan, 12.0, 86.95, [None, "l", "h"])
    assert near.whz_unrounded[0] == near.whz_unrounded[1] != pytest.approx(near.whz_unrounded[2], abs=1e-3)


def test_whz_interpolates_between_tenth_cm_rows():
    low, upp = wfl.DATA["male"][Decimal("80.2")], wfl.DATA["male"][Decimal("80.3")]
    lms = [float(low[k]) + 0.5 * (float(upp[k]) - float(low[k])) for k in "lms"]
    got = _z(1, 400, 10.5, 80.25, "l").whz_unrounded
    assert got == pytest.approx(_restricted(10.5, *lms), abs=1e-9)
    assert got != pytest.approx(_restricted(10.5, *(float(low[k]) for k in "lms")), abs=1e-4)
    assert got != pytest.approx(_restricted(10.5, *(float(upp[k]) for k in "lms")), abs=1e-4)


def test_implausible_flags_keep_the_z_value():
    z = compute_zscores([1, 1, 2], [1000, 1000, 300], [2.0, 15.0, 8.0], [95.0, 60.0, 70.0], ["h", "h", "l"])
    assert z.waz[0] < -6 and bool(z.flag_waz[0])
    assert z.haz[1] < -6 and bool(z.flag_haz[1])
    assert not z.iloc[2][["flag_haz", "flag_waz", "flag_whz"]].any()


# --- rounding to 2 decimals, as anthro does before flagging and classifying --------------------------


def test_haz_just_below_minus_two_rounds_to_minus_two_and_is_not_stunted():
    # A boy of 374 days, 71.3 cm lying: HAZ -2.0032, found by a search over 0.1 cm lengths.
    exact = reference_row(1, 374, np.nan, 71.3, "l")[0]
    assert -2.005 < exact < -2
    z = _z(1, 374, np.nan, 71.3, "l")
    assert z.haz_unrounded == pytest.approx(exact, abs=1e-12)
    assert z.haz_unrounded < -2  # stunted before the rounding
    assert z.haz == -2.0
    assert not z.haz < -2  # not stunted for WHO


@pytest.mark.parametrize(
    ("col", "args", "bound"),
    [
        ("haz", (1, 369, np.nan, 90.2, "l"), 6.0),  # HAZ 6.0045
        ("haz", (1, 366, np.nan, 61.5, "l"), -6.0),  # HAZ -6.0045
        ("waz", (1, 400, 16.53, 75.0, "l"), 5.0),  # WAZ 5.0026
        ("waz", (1, 400, 4.6, 75.0, "l"), -6.0),  # WAZ -6.0016
        ("whz", (1, 400, 6.28, 75.0, "l"), -5.0),  # WHZ -5.0048
    ],
)
def test_z_just_past_a_flag_threshold_that_rounds_onto_it_is_not_flagged(col, args, bound):
    z = _z(*args)
    exact = reference_row(*args)[("haz", "waz", "whz").index(col)]
    assert z[f"{col}_unrounded"] == pytest.approx(exact, abs=1e-12)
    assert abs(bound) < abs(exact) < abs(bound) + 0.005
    assert z[col] == bound
    assert not bool(z[f"flag_{col}"])


def test_z_rounding_past_a_flag_threshold_is_flagged():
    z = compute_zscores(1, [369, 369, 400], [np.nan, np.nan, 16.54], [90.2, 90.25, 75.0], "l")
    assert z.haz.tolist()[:2] == [6.0, 6.03] and z.flag_haz.tolist()[:2] == [False, True]
    assert z.waz[2] == 5.01 and bool(z.flag_waz[2])  # WAZ 5.0097


def test_matches_row_by_row_reference_on_edge_heavy_random_rows():
    rng = np.random.default_rng(11)
    n = 3000
    edges = np.array([-1, 0, 272, 273, 274, 730, 731, 1826, 1827, 1856, 1857, np.nan])
    age = np.where(rng.random(n) < 0.3, rng.choice(edges, n), rng.integers(0, 1900, n)).astype(float)
    len_edges = np.array([44.9, 45.0, 64.95, 65.0, 86.9, 87.0, 109.95, 110.0, 110.05, 120.0, 120.1, np.nan])
    lenhei = np.where(rng.random(n) < 0.2, rng.choice(len_edges, n), np.round(rng.uniform(40, 125, n), 2))
    weight = np.where(rng.random(n) < 0.05, rng.choice([0.0, np.nan], n), np.round(rng.uniform(1, 30, n), 2))
    sex = rng.choice([1.0, 2.0, np.nan], n, p=[0.48, 0.48, 0.04])
    measure = rng.choice(np.array(["l", "h", None], dtype=object), n)
    got = compute_zscores(sex, age, weight, lenhei, measure)
    expected = [reference_row(*row) for row in zip(sex, age, weight, lenhei, measure, strict=True)]
    for j, col in enumerate(("haz", "waz", "whz")):
        exp = np.array([e[j] for e in expected])
        exact = got[f"{col}_unrounded"].to_numpy()
        np.testing.assert_allclose(exact, exp, rtol=0, atol=1e-9, equal_nan=True, err_msg=col)
        np.testing.assert_array_equal(got[col].to_numpy(), r_round(exp), err_msg=col)
    rounded = {col: r_round([e[j] for e in expected]) for j, col in enumerate(("haz", "waz", "whz"))}
    assert got.flag_haz.tolist() == (np.abs(rounded["haz"]) > 6).tolist()
    assert got.flag_waz.tolist() == ((rounded["waz"] < -6) | (rounded["waz"] > 5)).tolist()
    assert got.flag_whz.tolist() == (np.abs(rounded["whz"]) > 5).tolist()
    assert got.flag_c9mo.tolist() == [e[3] for e in expected]


def test_input_kinds_threads_and_broadcasting_agree():
    rng = np.random.default_rng(3)
    n = 150_000  # more than two blocks, so the thread pool really splits the work
    cols = dict(
        sex=rng.integers(1, 3, n),
        age_days=rng.integers(0, 1827, n).astype(float),
        weight_kg=rng.uniform(3, 20, n),
        lenhei_cm=rng.uniform(50, 110, n),
        measure=rng.choice(np.array(["l", "H", ""], dtype=object), n),
    )
    one = compute_zscores(**cols, n_threads=1)
    two = compute_zscores(**cols, n_threads=2)
    cat = compute_zscores(**{**cols, "measure": pd.Series(cols["measure"], dtype="category")}, n_threads=2)
    series = compute_zscores(*(pd.Series(v) for v in cols.values()))
    for other in (two, cat, series):
        pd.testing.assert_frame_equal(one, other)
    scalar = compute_zscores(2, [300, 400], 8.0, 70.0, "l")
    listed = compute_zscores([2, 2], [300, 400], [8.0, 8.0], [70.0, 70.0], ["l", "l"])
    pd.testing.assert_frame_equal(scalar, listed)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([3], [10], [5.0], [50.0], ["l"]), "sex"),
        (([1], [10], [5.0], [50.0], ["x"]), "measure"),
        (([1], ["ten"], [5.0], [50.0], ["l"]), "age_days"),
        (([1, 2], [10, 20, 30], [5.0], [50.0], ["l"]), "lengths"),
    ],
)
def test_bad_inputs_raise(args, message):
    with pytest.raises(ValueError, match=message):
        compute_zscores(*args)


# --- tables ----------------------------------------------------------------------------------------


def test_lms_tables_shape_and_duckdb_load_is_idempotent():
    frame = lms_tables()
    counts = frame.groupby("indicator").size().to_dict()
    assert counts == {"lfa": 2 * 1857, "wfa": 2 * 1857, "wfl": 2 * 651, "wfh": 2 * 551}
    assert lms_arrays()["wfl"].m[1, 0] == 2.4607  # female, 45.0 cm
    con = duckdb.connect()
    assert load_into_duckdb(con) == len(frame)
    assert load_into_duckdb(con) == len(frame)
    n, m = con.execute(
        "select count(*), max(m) filter (where indicator = 'wfh' and sex = 1 and x = 120.0) "
        "from reference.who_growth_lms"
    ).fetchone()
    assert (n, m) == (len(frame), 22.353)
