"""Village-submitted streams besides e-PPGBM: the P3KE household register (``households``) and
the quarterly village convergence scorecard (``village_scorecard``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipelines.parsing.layouts import HOUSEHOLDS, VILLAGE_SCORECARD
from pipelines.synthetic import generate_io as gio
from pipelines.synthetic import generate_names as names

HOUSEHOLD_PERIOD = "2024"
SCORECARD_PERIOD = "2024-Q3"
_CHUNK_VILLAGES = 128
# Variant spellings some P3KE files carry (alias-mapped by the parser).
_VARIANT_HEADERS = {"Penerima BPNT": "Penerima BNBT", "Kode Kemendagri": "Kode Kemdagri"}
_POORER = {"01", "02"}  # regency suffixes (Pandeglang, Lebak)

_CHOICES = {
    "occupation": ("Petani/Pekebun", "Buruh Harian Lepas", "Wiraswasta", "Mengurus Rumah Tangga",
                   "Tidak Bekerja", "Nelayan", "Pedagang", "Karyawan Swasta", "Buruh Tani"),
    "education": ("Tidak/Belum Sekolah", "SD/Sederajat", "SD/Sederajat", "SMP/Sederajat", "SMA/Sederajat",
                  "Diploma/S1"),
    "home_ownership": ("Milik Sendiri", "Milik Sendiri", "Milik Sendiri", "Sewa", "Menumpang", "Bebas Sewa"),
    "roof_type": ("Genteng", "Genteng", "Seng", "Asbes", "Ijuk/Rumbia", "Beton"),
    "wall_type": ("Tembok", "Tembok", "Kayu/Papan", "Bambu", "Anyaman Bambu"),
    "floor_type": ("Keramik", "Semen/Bata Merah", "Semen/Bata Merah", "Tanah", "Kayu/Papan"),
    "lighting_source": ("Listrik PLN dengan meteran", "Listrik PLN dengan meteran", "Listrik PLN tanpa meteran",
                        "Bukan Listrik"),
    "cooking_fuel": ("Gas 3 kg", "Gas 3 kg", "Gas 3 kg", "Kayu Bakar", "Minyak Tanah"),
    "drinking_water": ("Sumur Bor/Pompa", "Sumur Terlindung", "Sumur Tak Terlindung", "Air Isi Ulang",
                       "Leding", "Mata Air"),
    "toilet_facility": ("Sendiri", "Sendiri", "Bersama", "Umum", "Tidak Ada"),
}
_FLAG_RATE = {"receives_bpnt": 0.35, "receives_bpum": 0.08, "receives_bst": 0.15, "receives_pkh": 0.25,
              "receives_sembako": 0.3, "has_savings": 0.2, "stunting_risk": 0.25, "targeting": 0.6}


def _yes_no(rng, p: np.ndarray | float, n: int) -> np.ndarray:
    return np.where(rng.random(n) < p, "Ya", "Tidak")


def _pick(rng, pool, n: int) -> np.ndarray:
    return np.asarray(pool)[rng.integers(0, len(pool), n)]


def _p3ke_regency(ep_name: str) -> str:
    return ep_name.replace("KAB ", "KAB. ", 1)


def _household_columns(rng, geo: names.Geography, chunk: np.ndarray, counts: np.ndarray) -> dict[str, np.ndarray]:
    n = int(counts.sum())
    vil = np.repeat(chunk, counts)
    serial = np.concatenate([np.arange(1, c + 1) for c in counts])
    reg = geo.village_regency[vil]
    codes = geo.village_codes[vil]
    code_digits = np.strings.replace(codes, ".", "")
    p1 = np.where(np.isin(np.array([c[3:] for c in geo.regency_codes])[reg], list(_POORER)), 0.19, 0.12)
    u = rng.random(n)
    rest = (u - p1) / (1 - p1)
    decile = np.where(u < p1, 1, np.where(rest < 0.3, 2, np.where(rest < 0.63, 3, 4)))
    sex = np.where(rng.random(n) < 0.85, "Laki-laki", "Perempuan")
    birth = np.datetime64("1950-01-01") + rng.integers(0, 365 * 50, n).astype("timedelta64[D]")
    by = birth.astype("datetime64[Y]")
    bm = birth.astype("datetime64[M]")
    dd = (birth - bm).astype(int) + 1 + np.where(sex == "Perempuan", 40, 0)
    mmyy = np.strings.add(np.strings.zfill(((bm - by).astype(int) + 1).astype(str), 2),
                          np.strings.zfill(((by.astype(int) + 1970) % 100).astype(str), 2))
    nik = np.strings.add(np.strings.add(np.strings.slice(code_digits, 0, 6), np.strings.zfill(dd.astype(str), 2)),
                         np.strings.add(mmyy, np.strings.zfill(rng.integers(1, 9999, n).astype(str), 4)))
    rt = np.strings.zfill(rng.integers(1, 13, n).astype(str), 3)
    rw = np.strings.zfill(rng.integers(1, 8, n).astype(str), 3)
    address = np.strings.add(np.strings.add(np.strings.add("KP. ", np.strings.upper(_pick(rng, geo.village_names, n))),
                                            np.strings.add(", RT ", rt)), np.strings.add("/RW ", rw))
    poor = decile == 1
    cols = {
        "family_id": np.strings.add(np.strings.add("P", code_digits), np.strings.zfill(serial.astype(str), 4)),
        "province_name": np.full(n, geo.province_name.upper()),
        "regency_name": np.array([_p3ke_regency(r[2]) for r in geo.regencies])[reg],
        "district_name": np.strings.upper(geo.district_names[geo.village_district[vil]]),
        "village_name": np.strings.upper(geo.village_names[vil]),
        "village_code": codes,
        "welfare_decile": decile.astype(str),
        "address": address,
        "head_name": np.strings.add(np.strings.add(_pick(rng, names.ADULT_NAMES, n), " "),
                                    _pick(rng, names.FAMILY_NAMES, n)),
        "nik": nik,
        "nik_matched": _yes_no(rng, 0.92, n),
        "head_sex": sex,
        "head_birth_date": birth.astype(str),
        "has_savings": _yes_no(rng, np.where(poor, 0.05, _FLAG_RATE["has_savings"]), n),
        "n_members": np.clip(np.round(rng.normal(4.2, 1.6, n)), 1, 9).astype(int).astype(str),
    }
    for key, pool in _CHOICES.items():
        cols[key] = _pick(rng, pool, n)
    for key, rate in _FLAG_RATE.items():
        if key not in cols:
            cols[key] = _yes_no(rng, np.where(poor, min(0.95, rate * 1.8), rate), n)
    return cols


def write_households(out: Path, geo: names.Geography, villages: np.ndarray, mean: float, rng) -> dict:
    """One P3KE register per village (comma CSV, UTF-8, ``Ya``/``Tidak`` flags)."""
    folder = out / "households"
    n = len(villages)
    counts = np.clip(np.round(rng.normal(mean, mean * 0.25, n)), 5, None).astype(int)
    variant = set(rng.choice(n, size=min(2, n), replace=False).tolist())
    late = 3 + 20 * rng.random(n)
    end = gio.period_end(HOUSEHOLD_PERIOD)
    n_rows = 0
    for start in range(0, n, _CHUNK_VILLAGES):
        chunk, cnt = villages[start: start + _CHUNK_VILLAGES], counts[start: start + _CHUNK_VILLAGES]
        cols = _household_columns(rng, geo, chunk, cnt)
        series = [cols[c].tolist() for c in HOUSEHOLDS.canonical]
        rows = list(zip(*series, strict=True))
        offsets = np.concatenate([[0], np.cumsum(cnt)])
        for j, vil in enumerate(chunk):
            g = start + j
            headers = [_VARIANT_HEADERS.get(h, h) if g in variant else h for h in HOUSEHOLDS.headers]
            path = folder / f"{geo.village_codes[vil]}_{HOUSEHOLD_PERIOD}.csv"
            gio.write_bytes(path, gio.csv_bytes(headers, rows[offsets[j]: offsets[j + 1]], delimiter=",",
                                                 encoding="utf-8", crlf=False))
            gio.set_received(path, gio.received_after(end, late[g]))
        n_rows += int(cnt.sum())
    return {"files": n, "rows": n_rows}


def write_scorecards(out: Path, geo: names.Geography, villages: np.ndarray, rng) -> dict:
    """One quarterly scorecard row per village (``;`` CSV, Rupiah with thousand dots)."""
    folder = out / "village_scorecard"
    n = len(villages)
    n_posy = rng.integers(2, 11, n)
    targets = rng.integers(20, 201, n)
    kel = geo.village_is_kelurahan[villages]
    dana = np.where(kel, 0, rng.integers(100, 3001, n) * 50_000)
    reached = {k: np.minimum(targets, np.round(targets * rng.uniform(0.3, 1.05, n)).astype(int))
               for k in ("n_reached_kia", "n_reached_nutrition", "n_reached_wash", "n_reached_social",
                         "n_reached_paud")}
    cols = {
        "village_code": geo.village_codes[villages],
        "village_name": geo.village_names[villages],
        "year": np.full(n, "2024"), "quarter": np.full(n, "3"),
        "rembuk_held": _yes_no(rng, 0.8, n), "kpm_active": _yes_no(rng, 0.85, n),
        "n_posyandu": n_posy.astype(str),
        "n_posyandu_active": np.maximum(0, n_posy - rng.integers(0, 3, n)).astype(str),
        "dana_desa_stunting_rp": gio.thousand_dots(dana),
        "n_target_households": targets.astype(str),
        **{k: v.astype(str) for k, v in reached.items()},
        "kpm_name": np.strings.add(np.strings.add(_pick(rng, names.ADULT_NAMES, n), " "),
                                   _pick(rng, names.FAMILY_NAMES, n)),
        "kpm_phone": np.strings.add("08", np.strings.zfill(rng.integers(1_000_000_000, 9_999_999_999, n)
                                                           .astype(str), 10)),
    }
    late = _late(rng, n)
    end = gio.period_end(SCORECARD_PERIOD)
    rows = list(zip(*[cols[c].tolist() for c in VILLAGE_SCORECARD.canonical], strict=True))
    for j, vil in enumerate(villages):
        path = folder / f"{geo.village_codes[vil]}_{SCORECARD_PERIOD}.csv"
        gio.write_bytes(path, gio.csv_bytes(VILLAGE_SCORECARD.headers, [rows[j]], delimiter=";",
                                             encoding="utf-8-sig"))
        gio.set_received(path, gio.received_after(end, late[j]))
    return {"files": n, "rows": n}


def _late(rng, n: int) -> np.ndarray:
    return np.where(rng.random(n) < 0.12, 15 + 30 * rng.random(n), 2 + 10 * rng.random(n))
