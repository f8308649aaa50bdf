"""WHO growth-standard helpers for the synthetic e-PPGBM generator.

The generator draws a "true" z-score per child and turns it into centimetres and kilograms
with the WHO LMS tables shipped in ``pygrowup``; the exported ``ZS`` columns are then
recomputed from the *recorded* (rounded, position-adjusted) values, the way e-PPGBM does,
so a correct downstream z-score implementation reproduces them to within rounding.
"""

from __future__ import annotations

from functools import cache

import numpy as np

SENTINEL = 999.99
# WHO implausibility limits per index (DOMAIN.md §3): outside them e-PPGBM shows "Outlier".
_FLAG_LIMITS = {"waz": (-6.0, 5.0), "haz": (-6.0, 6.0), "whz": (-5.0, 5.0)}
_POSITION_CM = 0.7
_LENGTH_AGE_DAYS = 731


@cache
def _lms(table: str) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """LMS arrays per sex (``"L"``/``"P"``) for one pygrowup ``by_day`` table, keyed by the
    table's own index (age in days, or length/height in cm)."""
    from importlib import import_module

    data = import_module(f"pygrowup.tables.by_day.{table}").DATA
    out = {}
    for sex, key in (("L", "male"), ("P", "female")):
        rows = sorted(data[key].items())
        x = np.array([float(k) for k, _ in rows])
        lms = np.array([[float(v["l"]), float(v["m"]), float(v["s"])] for _, v in rows])
        out[sex] = (x, lms[:, 0], lms[:, 1], lms[:, 2])
    return out


def _lookup(table: str, sex: np.ndarray, x: np.ndarray, *, interpolate: bool) -> tuple[np.ndarray, ...]:
    """L, M, S for every row; NaN where ``x`` lies outside the table."""
    n = len(x)
    res = [np.full(n, np.nan) for _ in range(3)]
    for s, (grid, lv, mv, sv) in _lms(table).items():
        sel = sex == s
        xs = x[sel]
        inside = (xs >= grid[0]) & (xs <= grid[-1])
        for k, col in enumerate((lv, mv, sv)):
            if interpolate:
                vals = np.interp(xs, grid, col)
            else:
                idx = np.clip(np.rint(xs).astype(np.int64) - int(grid[0]), 0, len(grid) - 1)
                vals = col[idx]
            res[k][sel] = np.where(inside, vals, np.nan)
    return tuple(res)


def _value_at(lv, mv, sv, z):
    return mv * np.power(1.0 + lv * sv * z, 1.0 / lv)


def z_to_value(table: str, sex: np.ndarray, x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Measurement for a z-score (WHO restricted tails beyond |z| = 3 for weight tables)."""
    lv, mv, sv = _lookup(table, sex, x, interpolate=table in ("wfl", "wfh"))
    if table == "lfa":
        return _value_at(lv, mv, sv, z)
    val = _value_at(lv, mv, sv, np.clip(z, -3.0, 3.0))
    sd3p, sd2p = _value_at(lv, mv, sv, 3.0), _value_at(lv, mv, sv, 2.0)
    sd3n, sd2n = _value_at(lv, mv, sv, -3.0), _value_at(lv, mv, sv, -2.0)
    val = np.where(z > 3, sd3p + (z - 3) * (sd3p - sd2p), val)
    val = np.where(z < -3, sd3n + (z + 3) * (sd2n - sd3n), val)
    return val


def value_to_z(table: str, sex: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """WHO z-score of measurement ``y`` (NaN where the table does not cover ``x``)."""
    lv, mv, sv = _lookup(table, sex, x, interpolate=table in ("wfl", "wfh"))
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (np.power(y / mv, lv) - 1.0) / (lv * sv)
        if table != "lfa":
            sd3p, sd2p = _value_at(lv, mv, sv, 3.0), _value_at(lv, mv, sv, 2.0)
            sd3n, sd2n = _value_at(lv, mv, sv, -3.0), _value_at(lv, mv, sv, -2.0)
            z = np.where(z > 3, 3 + (y - sd3p) / (sd3p - sd2p), z)
            z = np.where(z < -3, -3 + (y - sd3n) / (sd2n - sd3n), z)
    return z


def adjusted_lenhei(age_days: np.ndarray, lenhei: np.ndarray, lying: np.ndarray) -> np.ndarray:
    """Length/height converted to the position WHO expects for the age (the 0.7 cm rule)."""
    young = age_days < _LENGTH_AGE_DAYS
    adj = np.where(young & ~lying, lenhei + _POSITION_CM, lenhei)
    return np.where(~young & lying, lenhei - _POSITION_CM, adj)


def true_lenhei(sex: np.ndarray, age_days: np.ndarray, haz: np.ndarray) -> np.ndarray:
    """Length (under 731 days) or height for a true HAZ."""
    return z_to_value("lfa", sex, np.minimum(age_days, 1856), haz)


def export_zscores(
    sex: np.ndarray, age_days: np.ndarray, weight: np.ndarray, lenhei: np.ndarray, lying: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(WAZ, HAZ, WHZ) as e-PPGBM would export them from recorded values: rounded to two
    decimals, :data:`SENTINEL` where not computable."""
    ok_age = (age_days >= 0) & (age_days <= 1856)
    ok_w = (weight > 0.9) & (weight < 58)
    ok_h = (lenhei >= 38) & (lenhei <= 150)
    age_c = np.clip(age_days, 0, 1856)
    adj = adjusted_lenhei(age_days, lenhei, lying)
    waz = np.where(ok_age & ok_w, value_to_z("wfa", sex, age_c, weight), np.nan)
    haz = np.where(ok_age & ok_h, value_to_z("lfa", sex, age_c, adj), np.nan)
    young = age_days < _LENGTH_AGE_DAYS
    whz = np.where(
        young,
        value_to_z("wfl", sex, adj, weight),
        value_to_z("wfh", sex, adj, weight),
    )
    whz = np.where(ok_age & ok_w & ok_h, whz, np.nan)
    return tuple(np.where(np.isfinite(z), np.round(z, 2) + 0.0, SENTINEL) for z in (waz, haz, whz))


def labels(index: str, z: np.ndarray) -> np.ndarray:
    """e-PPGBM category label per z-score; band upper limits inclusive (DOMAIN.md §3)."""
    if index == "waz":
        out = np.select(
            [z < -3, z < -2, z <= 1], ["Sangat Kurang", "Kurang", "Normal"], "Risiko Lebih"
        )
    elif index == "haz":
        out = np.select([z < -3, z < -2, z <= 3], ["Sangat Pendek", "Pendek", "Normal"], "Tinggi")
    else:
        out = np.select(
            [z < -3, z < -2, z <= 1, z <= 2, z <= 3],
            ["Gizi Buruk", "Gizi Kurang", "Gizi Baik", "Risiko Gizi Lebih", "Gizi Lebih"],
            "Obesitas",
        )
    lo, hi = _FLAG_LIMITS[index]
    out = np.where((z < lo) | (z > hi), "Outlier", out)
    return np.where(z == SENTINEL, "-", out)
