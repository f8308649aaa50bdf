"""Region master index: resolve (regency, district, village) names to Kemendagri codes.

Names are matched along the full path, regency first, then the district inside that regency,
then the village inside that district, because village names repeat inside a regency and
district names repeat across regencies (DOMAIN.md §2). Normalisation: upper case, punctuation
to spaces, white space collapsed, ``KAB``/``KAB.``/``KABUPATEN`` -> ``KAB`` and ``KOTA`` kept:
the prefix is never dropped, since Kabupaten Serang (36.04) and Kota Serang (36.73) share a
bare name. Leftover variant spellings go through :data:`NAME_ALIASES`. Inside the resolved
parent, a name that still does not match is compared with its spaces removed (``SUKA MAJU``
vs ``SUKAMAJU``) and with a leading ``DESA``/``KELURAHAN``/``KECAMATAN`` word dropped.

Resolution loops over DISTINCT name triples only (a monthly file has a few hundred), then maps
the answers back onto every row with array indexing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.parsing.values import squeeze_whitespace

LEVELS = ("province", "regency", "district", "village")
_PUNCT = re.compile(r"[^0-9A-Z]+")
_PREFIX = re.compile(r"^(KABUPATEN|KAB|KOTAMADYA|KOTA ADMINISTRASI|KOTA ADM|KOTA)\b ?")
_PREFIX_TOKEN = {"KABUPATEN": "KAB", "KAB": "KAB"}  # every KOTA* spelling -> "KOTA"
_TYPE_WORD = {
    "district": re.compile(r"^(KECAMATAN|KEC)\b ?"),
    "village": re.compile(r"^(DESA|DS|KELURAHAN|KEL)\b ?"),
}

# Applied after normalisation; keys and values are normalised names. Regency keys map to a
# prefixed regency name; district/village keys apply inside the resolved parent only.
NAME_ALIASES: dict[str, dict[str, str]] = {
    "regency": {
        "TANGSEL": "KOTA TANGERANG SELATAN",
        "KOTA TANGSEL": "KOTA TANGERANG SELATAN",
        "TANGERANG SELATAN": "KOTA TANGERANG SELATAN",
        "KAB TANGERANG SELATAN": "KOTA TANGERANG SELATAN",
        "KOTA CILEGON": "KOTA CILEGON",
        "CILEGON": "KOTA CILEGON",
        "KAB CILEGON": "KOTA CILEGON",
        "PANDEGLANG": "KAB PANDEGLANG",
        "LEBAK": "KAB LEBAK",
        "KOTA TANGERANG SEL": "KOTA TANGERANG SELATAN",
    },
    # Empty until a real submission shows a leftover spelling; the space-removed fallback
    # already covers SUKA MAJU / SUKAMAJU.
    "district": {},
    "village": {},
}

# Codes written without dots (spreadsheets, BPS-like habits): digits -> dotted Kemendagri form.
_UNDOTTED = {
    2: (2,),
    4: (2, 2),
    6: (2, 2, 2),
    10: (2, 2, 2, 4),
}


def normalise_name(name: str, level: str = "village") -> str:
    """One name as matched: upper case, punctuation -> space, spaces collapsed, regency
    prefix unified (``KAB``/``KOTA``), then the alias table for that level."""
    text = _PUNCT.sub(" ", str(name).upper()).strip()
    if level == "regency":
        m = _PREFIX.match(text)
        if m:
            word = m.group(1)
            token = _PREFIX_TOKEN.get(word, "KOTA")
            text = f"{token} {text[m.end():]}".strip()
    return NAME_ALIASES.get(level, {}).get(text, text)


def normalise_codes(codes: pd.Series) -> pd.Series:
    """Kemendagri codes as dotted text; digit-only codes of 2/4/6/10 digits get their dots.

    XLSX numbers (``3601012001``) are read as their integer digits. Empty -> NA.
    """
    if codes.dtype == object:
        codes = codes.map(lambda v: str(int(v)) if isinstance(v, float) and v.is_integer() else str(v),
                          na_action="ignore")
    text = squeeze_whitespace(codes.astype("str").str.strip(), "")
    digits = text.str.fullmatch(r"[0-9]+").fillna(False).astype(bool)
    out = text.copy()
    for n, parts in _UNDOTTED.items():
        mask = digits & text.str.len().eq(n)
        if mask.any():
            pieces, start = [], 0
            for width in parts:
                pieces.append(text[mask].str.slice(start, start + width))
                start += width
            joined = pieces[0]
            for piece in pieces[1:]:
                joined = joined + "." + piece
            out[mask] = joined
    return out.where(out.ne("") & codes.notna())


class RegionIndex:
    """Lookup structures over a region master (``code, level, name, parent_code``)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        df = frame[["code", "level", "name", "parent_code"]].astype("str").copy()
        df["parent_code"] = df["parent_code"].fillna("")
        self.frame = df
        self._codes = {lvl: frozenset(df.loc[df["level"] == lvl, "code"]) for lvl in LEVELS}
        self._known: dict[tuple[str, ...], pa.Array] = {}  # value sets for validate_code, built on first use
        self._names = dict(zip(df["code"], df["name"], strict=True))
        self._regency: dict[str, str] = {}
        bare: dict[str, set[str]] = {}
        for code, name in df.loc[df["level"] == "regency", ["code", "name"]].itertuples(index=False):
            norm = normalise_name(name, "regency")
            self._regency[norm] = code
            bare.setdefault(_PREFIX.sub("", norm), set()).add(code)
        # A bare name is accepted only when exactly one regency carries it (not SERANG, TANGERANG).
        self._regency_bare = {b: next(iter(c)) for b, c in bare.items() if len(c) == 1}
        self._regency_ambiguous = {b for b, c in bare.items() if len(c) > 1}
        self._child: dict[str, dict[str, str]] = {}
        self._child_nospace: dict[str, dict[str, str]] = {}
        for code, level, name, parent in df[["code", "level", "name", "parent_code"]].itertuples(index=False):
            if level not in ("district", "village"):
                continue
            norm = normalise_name(name, level)
            self._child.setdefault(parent, {})[norm] = code
            self._child_nospace.setdefault(parent, {})[norm.replace(" ", "")] = code

    @classmethod
    def from_frame(cls, df: pd.DataFrame) -> RegionIndex:
        """Build from a frame with ``code, level, name, parent_code`` (the region master CSV)."""
        return cls(df)

    @classmethod
    def from_csv(cls, path: str | Path) -> RegionIndex:
        """Build from the region master CSV file."""
        return cls(pd.read_csv(path, dtype=str, keep_default_na=False))

    def __repr__(self) -> str:
        counts = ", ".join(f"{lvl}={len(self._codes[lvl])}" for lvl in LEVELS)
        return f"RegionIndex({counts})"

    def name_of(self, code: str) -> str | None:
        return self._names.get(code)

    def codes(self, level: str) -> frozenset[str]:
        return self._codes[level]

    def validate_code(self, codes: pd.Series, level: str | tuple[str, ...]) -> pd.Series:
        """Whether each (normalised, dotted) code exists at ``level`` in the master.

        Args:
            codes: codes as text; run :func:`normalise_codes` first for undotted input.
            level: one level or a tuple of accepted levels.

        Returns:
            bool Series aligned with ``codes``; NA codes are False.
        """
        levels = (level,) if isinstance(level, str) else level
        known = self._known.get(levels)
        if known is None:  # Arrow's hash lookup: pandas' isin walks the whole master on every call
            known = self._known[levels] = pa.array(sorted(frozenset().union(*(self._codes[lvl] for lvl in levels))),
                                                   type=pa.large_string())
        values = pa.array(codes.astype("str").array, type=pa.large_string())
        found = pc.is_in(values, value_set=known).fill_null(False).to_numpy(zero_copy_only=False)
        return pd.Series(found, index=codes.index, dtype=bool, name=codes.name)

    def resolve_regency(self, name: str) -> str | None:
        norm = normalise_name(name, "regency")
        return self._regency.get(norm) or self._regency_bare.get(norm)

    def _resolve_child(self, parent: str, name: str, level: str) -> str | None:
        norm = normalise_name(name, level)
        found = self._child.get(parent, {}).get(norm)
        if found is None:
            stripped = _TYPE_WORD[level].sub("", norm)
            found = self._child.get(parent, {}).get(stripped)
            nospace = self._child_nospace.get(parent, {})
            found = found or nospace.get(norm.replace(" ", "")) or nospace.get(stripped.replace(" ", ""))
        return found

    def _resolve_one(self, regency: str, district: str, village: str) -> tuple:
        reg = self.resolve_regency(regency) if regency else None
        if reg is None:
            why = ("is ambiguous without its KAB/KOTA prefix"
                   if normalise_name(regency, "regency") in self._regency_ambiguous
                   else "is not in the region master")
            return None, None, None, "unknown_regency", f"regency {regency!r} {why}"
        dis = self._resolve_child(reg, district, "district") if district else None
        if dis is None:
            return (reg, None, None, "unknown_district",
                    f"district {district!r} not found in {self._names[reg]} ({reg})")
        vil = self._resolve_child(dis, village, "village") if village else None
        if vil is None:
            return (reg, dis, None, "unknown_village",
                    f"village {village!r} not found in district {self._names[dis]} ({dis}), {self._names[reg]}")
        return reg, dis, vil, None, None

    def resolve(self, regency: pd.Series, district: pd.Series, village: pd.Series) -> pd.DataFrame:
        """Resolve name triples to codes, looking up each distinct triple once.

        Args:
            regency, district, village: names, aligned Series (e.g. ``KAB SERANG``, ``CIKANDE``).

        Returns:
            Frame aligned with the inputs: ``regency_code``, ``district_code``, ``village_code``
            (NA where unresolved), ``reason`` (NA when resolved) and ``detail``.
        """
        parts = [s.astype("str").fillna("").str.strip() for s in (regency, district, village)]
        key = parts[0] + "\x1f" + parts[1] + "\x1f" + parts[2]
        codes, uniques = pd.factorize(key)
        answers = [self._resolve_one(*u.split("\x1f")) for u in uniques]
        cols = ("regency_code", "district_code", "village_code", "reason", "detail")
        # Each answer typed once per distinct triple, then taken per row (no Python object per row).
        table = {c: pd.array([a[i] for a in answers], dtype="str") for i, c in enumerate(cols)}
        return pd.DataFrame({c: pd.Series(table[c].take(codes), index=regency.index) for c in cols})
