"""Synthetic Banten geography and person names for the demo submission generator.

The eight regencies carry their real Kemendagri codes, names and per-regency counts of
districts, desa and kelurahan (DOMAIN.md §2); district and village names are invented from
Sundanese place-name parts. The geography uses its own fixed seed so every run (whatever
its ``seed``) shares one region master, and it deliberately contains the name pitfalls the
loaders must survive: village names repeated across districts of one regency and district
names repeated across regencies (Cibeber, Curug, Sobang).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GEOGRAPHY_SEED = 3600

# code, Kemendagri name, e-PPGBM spelling, districts, desa, kelurahan (DOMAIN.md §2)
REGENCIES = (
    ("36.01", "Kabupaten Pandeglang", "KAB PANDEGLANG", 35, 326, 13),
    ("36.02", "Kabupaten Lebak", "KAB LEBAK", 28, 340, 5),
    ("36.03", "Kabupaten Tangerang", "KAB TANGERANG", 29, 246, 28),
    ("36.04", "Kabupaten Serang", "KAB SERANG", 29, 326, 0),
    ("36.71", "Kota Tangerang", "KOTA TANGERANG", 13, 0, 104),
    ("36.72", "Kota Cilegon", "KOTA CILEGON", 8, 0, 43),
    ("36.73", "Kota Serang", "KOTA SERANG", 6, 0, 67),
    ("36.74", "Kota Tangerang Selatan", "KOTA TANGERANG SELATAN", 7, 0, 54),
)
# District names that repeat across regencies in the real master (DOMAIN.md §2).
_SHARED_DISTRICTS = {"36.01": ["Sobang"], "36.02": ["Cibeber", "Sobang"], "36.03": ["Curug"],
                     "36.72": ["Cibeber"], "36.73": ["Curug"]}

_NATURE_PREFIX = ("Ci", "Pasir", "Kadu", "Tegal", "Bojong", "Ranca", "Situ", "Leuwi", "Muara", "Pulo")
_NATURE_ROOT = (
    "badak", "bodas", "kembang", "gadung", "bitung", "kalong", "peuteuy", "kuray", "jati", "kiara",
    "waru", "hideung", "nangka", "kopo", "lame", "asem", "awi", "gede", "pinang", "sereh", "geulis",
    "honje", "kadu", "randu", "limus", "salam", "loa", "manggu", "kupa", "sawo", "tunjung", "gombong",
)
_HOPE_PREFIX = ("Suka", "Sindang", "Karang", "Mekar", "Tanjung", "Sumber", "Marga", "Giri", "Kerta",
                "Mulya", "Harja", "Sinar", "Banjar", "Cipta", "Wangun")
_HOPE_ROOT = (
    "maju", "jaya", "mulya", "sari", "asih", "rahayu", "mukti", "makmur", "wangi", "laksana", "resmi",
    "senang", "damai", "harja", "manah", "galih", "tengah", "anyar", "raja", "agung", "indah", "lega",
    "sakti", "baru", "tani", "karya", "bakti", "sejati", "jadi", "rena",
)
_SUFFIX = ("Kaler", "Kidul", "Wetan", "Kulon", "Girang", "Hilir", "Tengah", "Lor", "Baru", "Indah")
# Prefixes written as a separate word about half the time (``Pasir Gadung``).
_SPACED_PREFIX = {"Pasir", "Tanjung", "Bojong", "Muara", "Pulo", "Situ"}
# A prefix absent from the pool, so names built with it never match the master.
UNKNOWN_PREFIX = "Rawa"


@dataclass(frozen=True)
class Geography:
    """The synthetic region master, one array per attribute, villages in code order."""

    regency_codes: tuple[str, ...]
    district_codes: np.ndarray
    district_names: np.ndarray
    district_regency: np.ndarray  # index into REGENCIES
    village_codes: np.ndarray
    village_names: np.ndarray
    village_alt_names: np.ndarray  # same name with a space added or dropped ("" if none)
    village_district: np.ndarray  # index into district arrays
    village_regency: np.ndarray  # index into REGENCIES
    village_is_kelurahan: np.ndarray
    province_code: str = "36"
    province_name: str = "Banten"
    # (code, Kemendagri name, e-PPGBM spelling, districts, desa, kelurahan) per regency
    regencies: tuple[tuple, ...] = REGENCIES

    def region_master_rows(self) -> list[tuple[str, str, str, str]]:
        """Rows ``(code, level, name, parent_code)`` in the order of the reference file."""
        rows = [(self.province_code, "province", self.province_name, "")]
        by_district: dict[int, list[int]] = {}
        for v, d in enumerate(self.village_district):
            by_district.setdefault(int(d), []).append(v)
        for r, (code, name, *_rest) in enumerate(self.regencies):
            rows.append((code, "regency", name, self.province_code))
            for d in np.flatnonzero(self.district_regency == r):
                rows.append((str(self.district_codes[d]), "district", str(self.district_names[d]), code))
                for v in by_district.get(int(d), []):
                    rows.append((str(self.village_codes[v]), "village", str(self.village_names[v]),
                                 str(self.district_codes[d])))
        return rows


def _name_pool() -> tuple[list[str], list[str], np.ndarray]:
    """All candidate village names, their spelling variants and sampling weights."""
    names, alts, weights = [], [], []
    for prefixes, roots in ((_NATURE_PREFIX, _NATURE_ROOT), (_HOPE_PREFIX, _HOPE_ROOT)):
        for p in prefixes:
            for r in roots:
                if p.lower() == r or (p == "Ci" and r == "beber"):
                    continue
                spaced = p in _SPACED_PREFIX and (len(p) + len(r)) % 2 == 0
                one, two = p + r, f"{p} {r.capitalize()}"
                base, alt = (two, one) if spaced else (one, two)
                names.append(base)
                alts.append(alt)
                weights.append(30.0)
                for s in _SUFFIX:
                    names.append(f"{base} {s}")
                    alts.append(f"{alt} {s}")
                    weights.append(1.0)
    w = np.array(weights)
    return names, alts, w / w.sum()


def _split_counts(rng: np.random.Generator, total: int, parts: int, minimum: int = 3) -> np.ndarray:
    share = rng.gamma(4.0, 1.0, parts)
    counts = np.full(parts, minimum) + np.floor(share / share.sum() * (total - minimum * parts)).astype(int)
    counts[np.argsort(-share)[: total - counts.sum()]] += 1
    return counts


def clone_regencies(province_code: str) -> tuple[tuple, ...]:
    """Banten's regencies re-coded under another (synthetic) province for the national benchmark:
    ``36.01 Kabupaten Pandeglang`` becomes ``<pp>.01 Kabupaten Pandeglang <pp>``, so that every
    regency name stays unique in a national region master."""
    if province_code == "36":
        return REGENCIES
    return tuple((f"{province_code}.{code[3:]}", f"{name} {province_code}", f"{ep} {province_code}", *rest)
                 for code, name, ep, *rest in REGENCIES)


def build_geography(province_code: str = "36", province_name: str = "Banten") -> Geography:
    """Build the synthetic region master (fixed seed: independent of the run's seed).

    Another ``province_code`` gives the same villages and names under that code, with regency
    names suffixed by the code (:func:`clone_regencies`): the national benchmark's provinces.
    """
    regencies = clone_regencies(province_code)
    rng = np.random.default_rng(GEOGRAPHY_SEED)
    pool, pool_alt, pool_w = _name_pool()
    alt_of = dict(zip(pool, pool_alt, strict=True))
    base_names = [n for n, w in zip(pool, pool_w, strict=True) if " " not in n or n.split(" ")[-1] not in _SUFFIX]
    shared = {n for names in _SHARED_DISTRICTS.values() for n in names}
    district_pool = [n for n in base_names if n not in shared]
    district_pick = iter(rng.permutation(district_pool))

    d_codes, d_names, d_reg = [], [], []
    v_codes, v_names, v_alts, v_dist, v_reg, v_kel = [], [], [], [], [], []
    for r, (code, _name, _ep, n_dist, n_desa, n_kel) in enumerate(regencies):
        planted = list(_SHARED_DISTRICTS.get(f"36.{code[3:]}", []))
        names = planted + [str(next(district_pick)) for _ in range(n_dist - len(planted))]
        names = [names[i] for i in rng.permutation(n_dist)]
        counts = _split_counts(rng, n_desa + n_kel, n_dist)
        # Kelurahan cluster in the regency seat: fill whole districts in a random order.
        kel_left, kel_counts = n_kel, np.zeros(n_dist, dtype=int)
        for d in rng.permutation(n_dist):
            kel_counts[d] = min(kel_left, counts[d])
            kel_left -= kel_counts[d]
        picks = rng.choice(len(pool), size=n_desa + n_kel, replace=False, p=pool_w)
        reg_names = [pool[i] for i in picks]
        start = 0
        first_d = len(d_codes)
        for d in range(n_dist):
            d_code = f"{code}.{d + 1:02d}"
            d_codes.append(d_code)
            d_names.append(names[d])
            d_reg.append(r)
            for k in range(counts[d]):
                is_kel = k < kel_counts[d]
                serial = k + 1 if is_kel else k - kel_counts[d] + 1
                v_codes.append(f"{d_code}.{1000 + serial if is_kel else 2000 + serial}")
                v_names.append(reg_names[start + k])
                v_dist.append(len(d_codes) - 1)
                v_reg.append(r)
                v_kel.append(is_kel)
            start += counts[d]
        _plant_repeats(rng, v_names, v_dist, first_d, len(d_codes), 3 if n_desa else 1)
    v_alts = [alt_of.get(n, "") for n in v_names]
    arr = np.array
    return Geography(
        regency_codes=tuple(r[0] for r in regencies),
        district_codes=arr(d_codes), district_names=arr(d_names), district_regency=arr(d_reg),
        village_codes=arr(v_codes), village_names=arr(v_names), village_alt_names=arr(v_alts),
        village_district=arr(v_dist), village_regency=arr(v_reg), village_is_kelurahan=arr(v_kel),
        province_code=province_code, province_name=province_name, regencies=regencies,
    )


def _plant_repeats(rng, v_names: list[str], v_dist: list[int], d_lo: int, d_hi: int, n_groups: int) -> None:
    """Give a few villages of one regency the name of a village in another of its districts."""
    in_reg = [i for i, d in enumerate(v_dist) if d_lo <= d < d_hi]
    for _ in range(n_groups * 2):
        src, dst = rng.choice(in_reg, size=2, replace=False)
        if v_dist[src] == v_dist[dst]:
            continue
        if any(v_names[i] == v_names[src] for i in in_reg if v_dist[i] == v_dist[dst]):
            continue
        v_names[dst] = v_names[src]
    # The textbook case: one Sukamaju in three districts of the first regency.
    if d_lo == 0:
        for d in (0, 1, 2):
            first = next(i for i in in_reg if v_dist[i] == d)
            if all(v_names[i] != "Sukamaju" for i in in_reg if v_dist[i] == d):
                v_names[first] = "Sukamaju"


BOY_NAMES = (
    "MUHAMMAD", "AHMAD", "RIZKY", "FAJAR", "DIMAS", "RAFI", "ARKAN", "ALIF", "GALIH", "ASEP", "DADAN",
    "UJANG", "BAYU", "RAKA", "ZIDAN", "FAREL", "HAIKAL", "NAUFAL", "DAFFA", "AZKA", "ILHAM", "YUSUF",
    "FATHIR", "KEVIN", "RAIHAN", "GILANG", "ABIDZAR", "ARSYA", "BIMA", "DENIS",
)
GIRL_NAMES = (
    "SITI", "NUR", "AISYAH", "PUTRI", "SALSABILA", "NAYLA", "ZAHRA", "ANISA", "DEWI", "RINA", "NENG",
    "ALYA", "KEISHA", "AZZAHRA", "INTAN", "CITRA", "SRI", "WULAN", "NABILA", "FITRI", "HANA", "SYIFA",
    "ADZKIA", "KHANSA", "MAISYA", "QUEENSHA", "ELSA", "RARA", "NAURA", "CAHAYA",
)
FAMILY_NAMES = (
    "RAMADHAN", "HIDAYAT", "SAPUTRA", "PRATAMA", "MAULANA", "NURJANAH", "LESTARI", "RAHMAWATI",
    "KURNIAWAN", "FIRMANSYAH", "SETIAWAN", "SOBARI", "SUPRIATNA", "HERMAWAN", "AULIA", "FAUZIAH",
    "HASANAH", "ROHMAN", "SUHENDAR", "MULYADI", "SUMARNA", "KARTIKA", "ANGGRAENI", "WIJAYA", "SAEPUDIN",
)
# Spellings an Indonesian keyboard produces that cp1252 can still encode (é, ’).
SPECIAL_BOY_NAMES = ("MA’RUF", "NU’MAN", "SYAFI’I", "ANDRÉ", "RENÉ", "JA’FAR")
SPECIAL_GIRL_NAMES = ("NA’ILA", "MUNA’AMAH", "NA’IMAH", "RENÉE", "ZULAIKHA’")
ADULT_NAMES = (
    "SUKMA", "JAJANG", "ENDANG", "NANA", "CECEP", "DEDE", "IWAN", "EUIS", "IMAS", "YATI", "ENTIN",
    "TATI", "AAN", "ROHMAT", "HENDRA", "YAYAN", "ENAH", "OOM", "NINING", "SUHERMAN", "KOKOM", "EDI",
)
POSYANDU = (
    "MAWAR", "MELATI", "ANGGREK", "DAHLIA", "KENANGA", "CEMPAKA", "FLAMBOYAN", "TERATAI", "SERUNI",
    "BOUGENVILLE", "ASOKA", "KAMBOJA",
)
