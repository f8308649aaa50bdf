"""Vectorised WHO 2006 z-scores (HAZ, WAZ, WHZ) that reproduce the WHO `anthro` R package 1.1.0.

Rules taken from anthro (R/z-score.R, R/z-score-helper.R, R/z-score-weight-for-lenhei.R, R/utils.R):

* Age: days are rounded half up (`round_up`); months are the unrounded days / 30.4375. Scores only when
  months < 60 (so integer ages 0-1826 days). A negative age yields no score at all (anthro stops with an
  error instead; we keep the batch running).
* Position: 'h' with months < 9 is implausible: `flag_c9mo`, the position is dropped (no 0.7 cm
  conversion, treated as unknown) and the z-scores are still computed. Otherwise +0.7 cm when
  days < 731 and 'h', -0.7 cm when days >= 731 and 'l', nothing when the position is unknown.
* HAZ: plain LMS formula on the converted length/height, table row = age day.
* WAZ and WHZ: LMS formula with WHO's restriction beyond +/-3 SD (SD3pos/SD23pos, SD3neg/SD23neg).
* WHZ: weight-for-length (45-110 cm) when days < 731, weight-for-height (65-120 cm) when days >= 731.
  Without an age: 'l' -> length table, 'h' -> height table, unknown position -> length table below
  87 cm, height table from 87 cm. WHZ is the only score given without an age, as in anthro. L, M and S
  are interpolated linearly between the 0.1 cm rows around the length exactly as anthro does
  (rows trunc(x * 10) / 10 and trunc(x * 10 + 1) / 10, weight (x - low) / 0.1).
* Rounding: each z is rounded to 2 decimals with R's `round` (`round(zscore, digits = 2L)`,
  R/z-score-helper.R l. 74 and R/z-score-weight-for-lenhei.R l. 131; `growth.rounding.r_round`), and the
  flags and every classification use that rounded z, so a HAZ of -2.004 is -2.00, not stunted. The exact
  value is kept beside it as `*_unrounded`.
* Flags on the rounded z (anthro's flag_zscore): |HAZ| > 6, WAZ < -6 or > 5, |WHZ| > 5. The z is kept.

One deliberate difference, for a value no real measurement has: a weight <= 0 gives no WHZ (anthro 1.1.0
guards weight <= 0 for WAZ only and returns a finite WHZ for weight 0).
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from pipelines.growth.rounding import r_round
from pipelines.growth.who_tables import lms_arrays

DAYS_PER_MONTH = 30.4375
HEIGHT_TABLE_FROM_DAY = 731  # 24 months: length (lying) before, height (standing) from this day
MAX_MONTHS = 60
C9MO_MONTHS = 9
NO_AGE_HEIGHT_FROM_CM = 87.0
LENHEI_ADJUST_CM = 0.7
WFL_RANGE_CM = (45.0, 110.0)
WFH_RANGE_CM = (65.0, 120.0)

SCORES = ("haz", "waz", "whz")
UNROUNDED = tuple(f"{name}_unrounded" for name in SCORES)
OUTPUT_COLUMNS = (*SCORES, "flag_haz", "flag_waz", "flag_whz", "flag_c9mo", *UNROUNDED)

# Rows per work unit: small enough that the temporaries of one block stay in cache, large enough that
# per-block Python overhead is negligible.
_BLOCK_ROWS = 1 << 16
_MEASURE_CODES = {"": 0, "l": 1, "h": 2}


def compute_zscores(sex, age_days, weight_kg, lenhei_cm, measure=None, *, n_threads: int | None = None):
    """Compute WHO 2006 HAZ, WAZ and WHZ for many children at once, as WHO anthro 1.1.0 does.

    Args:
        sex: 1 male, 2 female (numbers, or the strings '1', '2', 'm', 'f'); missing gives no scores.
        age_days: age in days at measurement (float accepted, rounded half up for the table lookup).
        weight_kg: weight in kilograms.
        lenhei_cm: recumbent length or standing height in centimetres, as measured.
        measure: 'l' (lying) / 'h' (standing), case-insensitive, or missing/empty; None = all missing.
        n_threads: worker threads (numpy releases the GIL); default: the machine's cores, at most 8.

    Each argument may be a numpy array, pandas Series, list or scalar; scalars are broadcast.

    Returns:
        DataFrame (RangeIndex, one row per input row) with float columns `haz`, `waz`, `whz` (rounded to
        2 decimals as anthro does; NaN where WHO gives no score), bool columns `flag_haz`, `flag_waz`,
        `flag_whz` (implausible rounded z, exclude it from prevalence) and `flag_c9mo` (standing measure
        under 9 months), then `haz_unrounded`, `waz_unrounded`, `whz_unrounded` (the same z, unrounded).

    Raises:
        ValueError: on lengths that differ, non-numeric values, a sex other than 1/2 or a measure other
            than l/h.
    """
    n = _common_length(sex, age_days, weight_kg, lenhei_cm, measure)
    sex_c = _broadcast(_sex_codes(sex), n)
    age = _broadcast(_as_float(age_days, "age_days"), n)
    weight = _broadcast(_as_float(weight_kg, "weight_kg"), n)
    lenhei = _broadcast(_as_float(lenhei_cm, "lenhei_cm"), n)
    meas = _broadcast(_measure_codes(measure), n)

    out = {name: np.empty(n, dtype=np.float64) for name in (*SCORES, *UNROUNDED)}
    out.update({name: np.empty(n, dtype=bool) for name in ("flag_haz", "flag_waz", "flag_whz", "flag_c9mo")})
    blocks = [slice(i, min(i + _BLOCK_ROWS, n)) for i in range(0, n, _BLOCK_ROWS)]

    def run(block: slice) -> None:
        _score_block(sex_c[block], age[block], weight[block], lenhei[block], meas[block], out, block)

    threads = n_threads if n_threads is not None else min(os.cpu_count() or 1, 8)
    if threads <= 1 or len(blocks) <= 1:
        for block in blocks:
            run(block)
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(run, blocks))
    return pd.DataFrame({name: out[name] for name in OUTPUT_COLUMNS})


def _score_block(sex, age, weight, lenhei, meas, out, block) -> None:
    """Score one block of rows and write the results into `out[...][block]`."""
    tables = lms_arrays()
    sex = sex.astype(np.intp)  # int8 * table size would overflow
    with np.errstate(all="ignore"):
        age_known = ~np.isnan(age)
        age_ok = age >= 0  # False for NaN and for negative ages
        day = np.floor(age)
        day += (age - day) >= 0.5  # anthro's round_up: .5 goes up
        months = age / DAYS_PER_MONTH
        under5 = age_ok & (months < MAX_MONTHS)
        sex_ok = sex >= 0
        is_l = meas == 1
        is_h = meas == 2

        c9mo = is_h & age_ok & (months < C9MO_MONTHS)
        is_h &= ~c9mo  # anthro sets the position to NA for these children
        young = age_ok & (day < HEIGHT_TABLE_FROM_DAY)
        old = age_ok & (day >= HEIGHT_TABLE_FROM_DAY)
        clen = np.where(young & is_h, lenhei + LENHEI_ADJUST_CM, lenhei)
        clen = np.where(old & is_l, lenhei - LENHEI_ADJUST_CM, clen)

        # Age-based indicators: invalid rows get index 0 and y = NaN, so they come out NaN without
        # compressing the arrays (most rows are valid in real data).
        by_age = under5 & sex_ok
        flat_day = np.where(by_age, sex * tables["lfa"].size + day, 0).astype(np.intp)

        haz = _lms_plain(np.where(by_age & (clen > 0), clen, np.nan), tables["lfa"], flat_day)
        waz = _lms_restricted(
            np.where(by_age & (weight > 0), weight, np.nan), *_take(tables["wfa"], flat_day)
        )
        whz = _whz(sex, weight, clen, age_known, under5, young, old, is_l, is_h, meas == 0, sex_ok, tables)

        for name, exact in (("haz", haz), ("waz", waz), ("whz", whz)):
            out[f"{name}_unrounded"][block] = exact
            out[name][block] = r_round(exact)
        # anthro flags (and classifies) the rounded z
        out["flag_haz"][block] = np.abs(out["haz"][block]) > 6
        out["flag_waz"][block] = (out["waz"][block] < -6) | (out["waz"][block] > 5)
        out["flag_whz"][block] = np.abs(out["whz"][block]) > 5
        out["flag_c9mo"][block] = c9mo


def _take(table, flat_idx):
    return (
        np.take(table.l.ravel(), flat_idx),
        np.take(table.m.ravel(), flat_idx),
        np.take(table.s.ravel(), flat_idx),
    )


def _lms_plain(y, table, flat_idx):
    """((y / M) ** L - 1) / (S * L); length-for-age has L = 1 throughout, where this is y / M - 1 over S."""
    m = np.take(table.m.ravel(), flat_idx)
    s = np.take(table.s.ravel(), flat_idx)
    if _all_l_one(table):
        # pow(x, 1.0) == x and s * 1.0 == s exactly, so this is bit-identical to the general formula.
        return (y / m - 1) / s
    l = np.take(table.l.ravel(), flat_idx)  # noqa: E741
    return ((y / m) ** l - 1) / (s * l)


def _all_l_one(table) -> bool:
    return bool(np.all(table.l == 1.0))


def _lms_restricted(y, l, m, s):  # noqa: E741
    """LMS z with WHO's linear extension beyond +/-3 SD (anthro's compute_zscore_adjusted)."""
    z = ((y / m) ** l - 1) / (s * l)
    ext = np.flatnonzero(np.abs(z) > 3)
    if ext.size:
        ye, le, me, se = y[ext], l[ext], m[ext], s[ext]
        ze = z[ext]

        def calc_sd(sd: float):
            return me * ((1 + le * se * sd) ** (1 / le))

        sd3pos = calc_sd(3)
        sd23pos = sd3pos - calc_sd(2)
        sd3neg = calc_sd(-3)
        sd23neg = calc_sd(-2) - sd3neg
        z[ext] = np.where(ze > 3, 3 + (ye - sd3pos) / sd23pos, -3 + (ye - sd3neg) / sd23neg)
    return z


def _whz(sex, weight, clen, age_known, under5, young, old, is_l, is_h, meas_missing, sex_ok, tables):
    """Weight-for-length/height z with anthro's table choice and 0.1 cm interpolation."""
    no_age = ~age_known
    use_l = young | (no_age & is_l) | (no_age & meas_missing & (clen < NO_AGE_HEIGHT_FROM_CM))
    use_h = old | (no_age & is_h) | (no_age & meas_missing & (clen >= NO_AGE_HEIGHT_FROM_CM))
    in_l = use_l & (clen >= WFL_RANGE_CM[0]) & (clen <= WFL_RANGE_CM[1])
    in_h = ~use_l & use_h & (clen >= WFH_RANGE_CM[0]) & (clen <= WFH_RANGE_CM[1])
    valid = (in_l | in_h) & sex_ok & (weight > 0) & (no_age | under5)

    tenths = clen * 10
    low = np.trunc(tenths)
    upp = np.trunc(tenths + 1)
    diff = (clen - low / 10) / 0.1

    wfl, wfh = tables["wfl"], tables["wfh"]
    # One flat array holds both tables: wfl male, wfl female, wfh male, wfh female.
    base = np.where(use_l, sex * wfl.size - wfl.first, 2 * wfl.size + sex * wfh.size - wfh.first)
    size = np.where(use_l, wfl.size, wfh.size)
    start = np.where(use_l, sex * wfl.size, 2 * wfl.size + sex * wfh.size)
    lo_idx = np.where(valid, base + low, 0).astype(np.intp)
    up_idx = np.where(valid, base + upp, 0).astype(np.intp)
    interp = diff > 0
    # anthro finds no upper row beyond a table's end and returns NA; never reached for in-range lengths,
    # kept so an index can never spill into the neighbouring table.
    valid &= ~interp | (up_idx < start + size)
    lo_idx[~valid] = 0
    up_idx[~(valid & interp)] = 0  # the upper row is unused there and may lie past the last row

    flat_l, flat_m, flat_s = _wfl_wfh_flat()
    lms = []
    for flat in (flat_l, flat_m, flat_s):
        lower = np.take(flat, lo_idx)
        upper = np.take(flat, up_idx)
        lms.append(np.where(interp, lower + diff * (upper - lower), lower))
    return _lms_restricted(np.where(valid, weight, np.nan), *lms)


@functools.lru_cache(maxsize=1)
def _wfl_wfh_flat() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """L, M, S of both weight-for-length/height tables laid end to end (see `_whz` for the layout)."""
    wfl, wfh = lms_arrays()["wfl"], lms_arrays()["wfh"]
    return tuple(np.concatenate([getattr(wfl, a).ravel(), getattr(wfh, a).ravel()]) for a in ("l", "m", "s"))


# ---------------------------------------------------------------------------------------------------
# Input coercion


def _length(x) -> int | None:
    if x is None or np.ndim(x) == 0:
        return None
    return len(x)


def _common_length(*args) -> int:
    lengths = {n for n in (_length(a) for a in args) if n is not None and n != 1}
    if len(lengths) > 1:
        raise ValueError(f"inputs have different lengths: {sorted(lengths)}")
    return lengths.pop() if lengths else 1


def _broadcast(arr: np.ndarray, n: int) -> np.ndarray:
    if arr.shape == (n,):
        return arr
    if arr.size == 1:
        return np.full(n, arr.reshape(-1)[0], dtype=arr.dtype)
    raise ValueError(f"cannot broadcast {arr.shape} to ({n},)")


def _as_float(x, name: str) -> np.ndarray:
    try:
        if isinstance(x, pd.Series | pd.Index | pd.api.extensions.ExtensionArray):
            return pd.Series(x).to_numpy(dtype=np.float64, na_value=np.nan)
        arr = np.asarray(x if x is not None else np.nan)
        if arr.dtype == object:
            return pd.Series(arr.reshape(-1)).to_numpy(dtype=np.float64, na_value=np.nan)
        return arr.astype(np.float64, copy=False).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from None


def _factorized_codes(x, mapper, name: str) -> np.ndarray:
    """Map values through `mapper` once per distinct value (fast for categorical or repetitive input)."""
    if isinstance(x, pd.Series) and isinstance(x.dtype, pd.CategoricalDtype):
        codes, uniques = x.cat.codes.to_numpy(), list(x.cat.categories)
    elif isinstance(x, pd.Categorical):
        codes, uniques = x.codes, list(x.categories)
    else:
        values = x.to_numpy() if isinstance(x, pd.Series) else np.asarray(x).reshape(-1)
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        uniques = list(uniques)
    lut = np.empty(len(uniques) + 1, dtype=np.int8)
    lut[-1] = mapper(None)  # code -1 = missing
    bad = []
    for i, value in enumerate(uniques):
        mapped = mapper(value)
        if mapped is None:
            bad.append(value)
        else:
            lut[i] = mapped
    if bad:
        shown = ", ".join(repr(b) for b in bad[:5])
        raise ValueError(f"{name} has values outside the allowed set: {shown}")
    return lut[np.asarray(codes, dtype=np.intp)]


def _measure_value(value):
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return 0
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return _MEASURE_CODES.get(str(value).strip().lower())


def _measure_codes(measure) -> np.ndarray:
    if measure is None:
        return np.zeros(1, dtype=np.int8)
    if np.ndim(measure) == 0:
        measure = [measure]
    return _factorized_codes(measure, _measure_value, "measure")


def _sex_value(value):
    """0 male, 1 female, -1 missing, None = not allowed (as anthro's standardize_sex_var)."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return -1
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if isinstance(value, str):
        text = value.strip().lower()
        return {"1": 0, "m": 0, "2": 1, "f": 1, "": -1}.get(text)
    if value == 1:
        return 0
    if value == 2:
        return 1
    return None


def _sex_codes(sex) -> np.ndarray:
    if np.ndim(sex) == 0:
        sex = [sex]
    if isinstance(sex, pd.Series) and isinstance(sex.dtype, pd.CategoricalDtype):
        return _factorized_codes(sex, _sex_value, "sex")
    arr = sex.to_numpy() if isinstance(sex, pd.Series) else np.asarray(sex)
    if arr.dtype.kind in "iuf":
        arr = arr.astype(np.float64, copy=False).reshape(-1)
        codes = np.where(arr == 1, 0, np.where(arr == 2, 1, -1)).astype(np.int8)
        bad = ~np.isnan(arr) & (codes < 0)
        if bad.any():
            raise ValueError(f"sex must be 1 (male) or 2 (female), got {arr[bad][0]!r}")
        return codes
    return _factorized_codes(sex, _sex_value, "sex")
