"""Synthetic e-PPGBM child measurements: simulation of children and their monthly visits.

One call simulates the children of a chunk of villages across every requested month, so the
same child (NIK, name, birth date) comes back each month with new measurements. Values start
from a true HAZ/WAZ drawn per regency, become cm/kg through the WHO LMS tables, are rounded
with field-like digit preference, and the exported z-scores are recomputed from the recorded
values. Quirks seen in real exports are injected in a small share of rows (see :data:`QUIRKS`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from pipelines.synthetic import generate_growth as growth
from pipelines.synthetic import generate_names as names

# Routine-data stunting prevalence aimed at per regency (DOMAIN.md §8: 8–25 %).
STUNTING_TARGET = {"36.01": 0.24, "36.02": 0.22, "36.03": 0.17, "36.04": 0.21,
                   "36.71": 0.10, "36.72": 0.15, "36.73": 0.19, "36.74": 0.08}
HAZ_SD = 1.1
WHZ_SD = 1.0
_HAZ_MEAN = np.array([-2 - HAZ_SD * NormalDist().inv_cdf(STUNTING_TARGET[r[0]]) for r in names.REGENCIES])
# Share of rows per quirk; every chunk gets at least one of each.
QUIRKS = {"duplicate": 0.004, "bad_date": 0.002, "bad_weight": 0.002, "zero_height": 0.002,
          "unknown_village": 0.002, "birth_after": 0.002}
ZSCORE_DISAGREE = 0.03


@dataclass
class Visits:
    """One month of rows for a chunk, column arrays keyed by layout canonical names.

    ``clean`` keeps the pre-quirk values of the columns a quirk touched, so a corrected
    re-submission can restore them.
    """

    cols: dict[str, np.ndarray]
    village: np.ndarray
    quirked: np.ndarray
    clean: dict[str, np.ndarray] = field(default_factory=dict)


def _month_start(period: str) -> np.datetime64:
    return np.datetime64(f"{period}-01", "D")


def _age_text(birth: np.ndarray, meas: np.ndarray) -> np.ndarray:
    """``"<y> Tahun - <m> Bulan - <d> Hari"`` from calendar differences, as e-PPGBM shows it."""
    bm, mm = birth.astype("datetime64[M]"), meas.astype("datetime64[M]")
    bd, md = (birth - bm).astype(int), (meas - mm).astype(int)
    months = (mm - bm).astype(int) - (md < bd)
    anchor_month = bm + months
    month_len = ((anchor_month + 1).astype("datetime64[D]") - anchor_month.astype("datetime64[D]")).astype(int)
    anchor = anchor_month.astype("datetime64[D]") + np.minimum(bd, month_len - 1)
    days = (meas - anchor).astype(int)
    neg = meas < birth
    months, days = np.where(neg, 0, months), np.where(neg, 0, days)
    y, m = months // 12, months % 12
    out = np.strings.add(np.strings.add(y.astype(str), " Tahun - "), m.astype(str))
    return np.strings.add(np.strings.add(out, " Bulan - "), np.strings.add(days.astype(str), " Hari"))


def _digit_preference(rng, x: np.ndarray, p_whole: float, p_half: float) -> np.ndarray:
    u = rng.random(len(x))
    return np.where(u < p_whole, np.round(x), np.where(u < p_whole + p_half, np.round(x * 2) / 2,
                                                       np.round(x, 1)))


def _pick(rng, pool, n: int) -> np.ndarray:
    return np.asarray(pool)[rng.integers(0, len(pool), n)]


def _children(rng, geo: names.Geography, villages: np.ndarray, counts: np.ndarray,
              first_month: str, special_villages: np.ndarray) -> dict[str, np.ndarray]:
    """Per-child attributes that stay fixed across months."""
    n = int(counts.sum())
    vil = np.repeat(villages, counts)
    reg = geo.village_regency[vil]
    sex = np.where(rng.random(n) < 1.1 / 2.1, "L", "P")
    n_posy = rng.integers(3, 9, len(villages))
    posy = np.floor(rng.random(n) * np.repeat(n_posy, counts)).astype(int)
    base_day = np.repeat(rng.integers(2, 14, len(villages)), counts)
    day = np.minimum(base_day + 2 * posy, 27)
    first_meas = _month_start(first_month) + day
    birth = first_meas - rng.integers(1, 1826, n)
    haz = _HAZ_MEAN[reg] + HAZ_SD * rng.standard_normal(n)
    whz = -0.45 + 0.1 * (haz - _HAZ_MEAN[reg]) + WHZ_SD * rng.standard_normal(n)

    first = np.where(sex == "L", _pick(rng, names.BOY_NAMES, n), _pick(rng, names.GIRL_NAMES, n))
    special = rng.random(n) < 0.02
    # Each cp1252 village gets at least one name that only a non-UTF-8 byte can spell.
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    special[starts[np.isin(villages, special_villages)]] = True
    first = np.where(special & (sex == "L"), _pick(rng, names.SPECIAL_BOY_NAMES, n), first)
    first = np.where(special & (sex == "P"), _pick(rng, names.SPECIAL_GIRL_NAMES, n), first)
    child_name = np.strings.add(np.strings.add(first, " "), _pick(rng, names.FAMILY_NAMES, n))
    child_name = np.where(rng.random(n) < 0.3, first, child_name)
    parent = np.strings.add(np.strings.add(_pick(rng, names.ADULT_NAMES, n), " "),
                            _pick(rng, names.FAMILY_NAMES, n))

    codes = geo.village_codes[vil]
    by = birth.astype("datetime64[Y]")
    bmo = birth.astype("datetime64[M]")
    dd = (birth - bmo).astype(int) + 1 + np.where(sex == "P", 40, 0)
    mm = (bmo - by).astype(int) + 1
    yy = (by.astype(int) + 1970) % 100
    nik = np.strings.add(
        np.strings.add(np.strings.replace(np.strings.slice(codes, 0, 8), ".", ""),
                       np.strings.zfill(dd.astype(str), 2)),
        np.strings.add(np.strings.add(np.strings.zfill(mm.astype(str), 2), np.strings.zfill(yy.astype(str), 2)),
                       np.strings.zfill(rng.integers(1, 9999, n).astype(str), 4)),
    )
    short = rng.random(n) < 0.03
    nik = np.where(short, np.strings.slice(nik, 0, rng.integers(10, 16, n)), nik)
    nik = np.where(rng.random(n) < 0.01, np.strings.add(nik, " "), nik)

    rt = np.strings.zfill(rng.integers(1, 13, n).astype(str), 3)
    rw = np.strings.zfill(rng.integers(1, 8, n).astype(str), 3)
    blank = rng.random(n)
    rt = np.where(blank < 0.1, "0", np.where(blank < 0.2, "", rt))
    rw = np.where(blank < 0.1, "0", np.where(blank < 0.2, "", rw))
    kampung = np.strings.upper(_pick(rng, geo.village_names, n))
    address = np.strings.add("KP. ", kampung)

    bw = np.round(np.clip(rng.normal(3.1, 0.45, n), 1.5, 4.8), 1)
    u = rng.random(n)
    bw = np.where(u < 0.37, 3.0, np.where(u < 0.42, np.round(bw * 1000, -2), np.where(u < 0.47, 0.0, bw)))
    bl = np.round(np.clip(rng.normal(49, 2, n), 40, 55))
    u = rng.random(n)
    bl = np.where(u < 0.3, 50.0, np.where(u < 0.35, 0.0, bl))
    posy_name = np.strings.add(np.strings.add(
        _pick(rng, names.POSYANDU, len(villages))[np.repeat(np.arange(len(villages)), counts)], " "),
        (posy + 1).astype(str))
    return dict(village=vil, regency=reg, sex=sex, day=day, birth=birth, haz=haz, whz=whz,
                child_name=child_name, parent_name=parent, nik=nik, rt=rt, rw=rw, address=address,
                birth_weight_kg=bw, birth_length_cm=bl, posyandu=posy_name)


def _visits(rng, geo: names.Geography, kids: dict, month_no: int, period: str) -> Visits:
    """One month of measurements for every child, quirks included."""
    n = len(kids["sex"])
    meas = _month_start(period) + kids["day"] + rng.integers(0, 2, n)
    # A later row for the same child and date with a corrected weight.
    dup = _choose(rng, n, QUIRKS["duplicate"])
    order = np.sort(np.concatenate([np.arange(n), dup]))
    is_dup = np.zeros(len(order), bool)
    is_dup[1:] = order[1:] == order[:-1]
    k = {key: val[order] for key, val in kids.items()}
    meas, m = meas[order], len(order)
    sex, birth = k["sex"], k["birth"]
    age = (meas - birth).astype(int)
    haz = k["haz"] + 0.08 * month_no * rng.standard_normal(m)
    whz = k["whz"] + 0.15 * month_no * rng.standard_normal(m)

    true_h = growth.true_lenhei(sex, age, haz)
    # Weight follows from a true WHZ (wasting is what weight-for-height measures); where the
    # length/height falls outside the WHZ tables, fall back to weight-for-age.
    weight = np.where(age < 731, growth.z_to_value("wfl", sex, true_h, whz),
                      growth.z_to_value("wfh", sex, true_h, whz))
    weight = np.where(np.isfinite(weight), weight,
                      growth.z_to_value("wfa", sex, np.clip(age, 0, 1856), whz + 0.4 * haz))
    lying = (age < 731) ^ (rng.random(m) < 0.05)
    rec_h = true_h - np.where((age < 731) & ~lying, 0.7, 0.0) + np.where((age >= 731) & lying, 0.7, 0.0)
    rec_h = _digit_preference(rng, rec_h, 0.55, 0.15)
    weight = _digit_preference(rng, weight, 0.25, 0.12)
    weight = np.where(is_dup, np.round(weight + rng.uniform(0.1, 0.5, m), 1), weight)
    clean = {"weight_kg": weight.copy(), "lenhei_cm": rec_h.copy(), "birth_date": birth.copy()}

    quirked = is_dup.copy()
    bad_w = _choose(rng, m, QUIRKS["bad_weight"])
    weight[bad_w] = rng.choice([-3.0, 250.0, 0.0], len(bad_w))
    zero_h = _choose(rng, m, QUIRKS["zero_height"])
    rec_h[zero_h] = 0.0
    after = _choose(rng, m, QUIRKS["birth_after"])
    birth = birth.copy()
    birth[after] = meas[after] + rng.integers(1, 200, len(after))
    bad_date = _choose(rng, m, QUIRKS["bad_date"])
    unknown = _choose(rng, m, QUIRKS["unknown_village"])
    for idx in (bad_w, zero_h, after, bad_date, unknown):
        quirked[idx] = True

    age = (meas - birth).astype(int)
    waz_x, haz_x, whz_x = growth.export_zscores(sex, age, weight, rec_h, lying)
    for z in (waz_x, haz_x, whz_x):
        z[bad_date] = growth.SENTINEL
        wrong = (rng.random(m) < ZSCORE_DISAGREE / 3) & (z != growth.SENTINEL)
        z[wrong] = np.round(z[wrong] + rng.choice([-1, 1], wrong.sum()) * rng.uniform(0.06, 0.6, wrong.sum()), 2)

    vil = k["village"]
    village_name = np.strings.upper(geo.village_names[vil])
    bogus = np.strings.upper(np.strings.add(names.UNKNOWN_PREFIX, _pick(rng, ("sari", "bungur", "jaya", "hilir"),
                                                                        m)))
    village_name = np.where(np.isin(np.arange(m), unknown), bogus, village_name)
    birth_bad = np.full(m, "", dtype=object)
    birth_bad[bad_date] = [f"2/{30 + int(i % 2)}/{2020 + int(i % 4)}" for i in bad_date]
    muac = np.round(rng.normal(14.6, 1.2, m), 1)
    muac = np.where((rng.random(m) < 0.23) | (age < 183), 0.0, muac)
    vit_a = np.where(rng.random(m) < 0.8, np.nan, rng.integers(1, 3, m).astype(float))
    cols = {
        "nik": k["nik"], "child_name": k["child_name"], "sex": sex, "birth_date": birth,
        "birth_date_text": birth_bad,
        "birth_weight_kg": k["birth_weight_kg"], "birth_length_cm": k["birth_length_cm"],
        "parent_name": k["parent_name"], "province_name": np.full(m, geo.province_name.upper()),
        "regency_name": np.array([r[2] for r in geo.regencies])[k["regency"]],
        "district_name": np.strings.upper(geo.district_names[geo.village_district[vil]]),
        "puskesmas": np.strings.upper(geo.district_names[geo.village_district[vil]]),
        "village_name": village_name, "posyandu": k["posyandu"], "rt": k["rt"], "rw": k["rw"],
        "address": k["address"], "age_text": _age_text(birth, meas), "measured_on": meas,
        "weight_kg": weight, "lenhei_cm": rec_h,
        "measure_position": np.where(lying, "Terlentang", "Berdiri"), "muac_cm": muac,
        "wfa_label": growth.labels("waz", waz_x), "waz_export": waz_x,
        "hfa_label": growth.labels("haz", haz_x), "haz_export": haz_x,
        "wfh_label": growth.labels("whz", whz_x), "whz_export": whz_x,
        "weight_gain_code": _pick(rng, ("N",) * 11 + ("T",) * 5 + ("O", "O", "B", "B"), m),
        "vit_a_doses": vit_a, "kpsp": np.full(m, "-"), "kia": np.where(rng.random(m) < 0.6, "-", "Ya"),
        "detail": np.full(m, ""),
    }
    clean["waz_export"], clean["haz_export"], clean["whz_export"] = growth.export_zscores(
        sex, (meas - k["birth"]).astype(int), clean["weight_kg"], clean["lenhei_cm"], lying)
    return Visits(cols=cols, village=vil, quirked=quirked, clean=clean)


def _choose(rng, n: int, rate: float) -> np.ndarray:
    return np.sort(rng.choice(n, size=min(n, max(1, round(rate * n))), replace=False))


def simulate(rng, geo: names.Geography, villages: np.ndarray, counts: np.ndarray, periods: list[str],
             special_villages: np.ndarray) -> list[Visits]:
    """Simulate the children of ``villages`` (``counts`` each) and one :class:`Visits` per period.

    Rows come out grouped by village in the order of ``villages``.
    """
    kids = _children(rng, geo, villages, counts, periods[0], special_villages)
    return [_visits(rng, geo, kids, i, p) for i, p in enumerate(periods)]


def village_spelling(geo: names.Geography, village: int, variant: bool) -> str:
    """Village name as an operator types it: upper case, optionally with a space moved."""
    alt = str(geo.village_alt_names[village])
    return (alt if variant and alt else str(geo.village_names[village])).upper()

