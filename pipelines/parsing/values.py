"""Vectorised cell parsing: decimals, Rupiah amounts, booleans and code lists (dates:
:mod:`pipelines.parsing.dates`).

Every parser takes a column as read (strings from CSV/JSON, native values from XLSX: numbers,
datetimes, booleans) and returns ``(values, bad)``: the typed column and a bool mask of cells
that were present but could not be parsed. Empty cells are NA and never ``bad``; whether an
empty cell is acceptable is the caller's decision (required columns).

CSV columns are pure string Series and go through ``.str`` operations only. XLSX (and JSON)
columns are ``object``: their cells' types are read in one C-level pass and each of the few
distinct types is then handled for all its cells at once (:func:`cell_types`), so no Python
function runs per cell.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from operator import methodcaller

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

TRUE_WORDS = frozenset({"YA", "Y", "1", "TRUE", "YES", "IYA", "BENAR"})
FALSE_WORDS = frozenset({"TIDAK", "T", "0", "FALSE", "NO", "N", "TDK", "BUKAN"})


_NUMBER_TYPES = (int, float, np.integer, np.floating)


def is_number(v: object) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)


def _is_number_type(t: type) -> bool:
    """:func:`is_number` of any cell of type ``t``."""
    return issubclass(t, _NUMBER_TYPES) and not issubclass(t, bool)


def cell_types(cells: np.ndarray) -> list[tuple[type, np.ndarray]]:
    """The distinct types of an ``object`` array's cells, each with the positions of its cells
    (ascending), in order of first appearance.

    ``map(type, ...)`` runs in C and the types are grouped by pandas' hash table: no Python
    function is called per cell. A column holds few distinct types (str, float, int, datetime,
    None), so a caller then treats each type's cells together.
    """
    n = len(cells)
    if not n:
        return []
    types = np.fromiter(map(type, cells), dtype=object, count=n)
    codes, distinct = pd.factorize(types)
    if len(distinct) == 1:
        return [(distinct[0], np.arange(n))]
    return [(t, np.flatnonzero(codes == k)) for k, t in enumerate(distinct)]


def _objects(items: Iterable[object], n: int) -> np.ndarray:
    """An ``object`` array of ``n`` items from an iterator (no conversion of the items)."""
    return np.fromiter(items, dtype=object, count=n)


def _cell_text(v: object) -> object:
    """One native cell as text (None for an empty cell), the rule :func:`as_text` applies; called
    per cell only for rare cell types (float subclasses other than ``np.float64``)."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, dt.datetime):
        return v.date().isoformat()
    return str(v)


def _float_text(cells: np.ndarray) -> np.ndarray:
    """:func:`_cell_text` of ``float``/``np.float64`` cells: NaN -> None, whole -> its digits
    (``3601012001.0`` -> ``3601012001``, ``1e20`` -> all 21 digits), else ``str``."""
    v = cells.astype("float64")
    out = np.full(len(v), None, dtype=object)
    whole = np.isfinite(v) & (np.floor(v) == v)
    exact = whole & (np.abs(v) < 2**53)  # int64 holds these exactly; Arrow writes the digits
    if exact.any():
        digits = pc.cast(pa.array(v[exact].astype("int64")), pa.string())
        out[exact] = digits.to_numpy(zero_copy_only=False)
    big = whole & ~exact
    if big.any():
        out[big] = _objects(map(str, map(int, cells[big])), int(big.sum()))
    fractional = ~whole & ~np.isnan(v)  # inf too: str(inf) == "inf"
    if fractional.any():
        out[fractional] = _objects(map(str, cells[fractional]), int(fractional.sum()))
    return out


_DATE = methodcaller("date")
_ISOFORMAT = methodcaller("isoformat")


def _native_text(cells: np.ndarray, types: list[tuple[type, np.ndarray]]) -> np.ndarray:
    """:func:`_cell_text` of the cells at the positions in ``types`` (:func:`cell_types`); None
    elsewhere. Each type's cells are converted together."""
    out = np.full(len(cells), None, dtype=object)
    for t, at in types:
        if t is type(None):
            continue
        if t is str:
            out[at] = cells[at]
        elif t is float or t is np.float64:
            out[at] = _float_text(cells[at])
        elif issubclass(t, float):
            out[at] = _objects(map(_cell_text, cells[at]), len(at))
        elif issubclass(t, dt.datetime):
            out[at] = _objects(map(_ISOFORMAT, map(_DATE, cells[at])), len(at))
        else:
            out[at] = _objects(map(str, cells[at]), len(at))
    return out


def _trimmed(text: pd.Series) -> pd.Series:
    """``text.astype("str").str.strip()``, empty cells NA: one Arrow pass for the trim, one for the
    empties (pandas' ``where`` on Arrow text took twice as long as both; 130k cells 8-12 -> 4 ms)."""
    text = text.astype("str")
    trimmed = pc.utf8_trim_whitespace(arrow_values(text))
    trimmed = pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, trimmed.type), trimmed)
    return pd.Series(trimmed, index=text.index, name=text.name, dtype="str")


def arrow_values(series: pd.Series) -> pa.Array:
    """An Arrow-backed Series' values as one Arrow array (no copy; chunks, as ``pd.concat`` of
    many files leaves them, combined)."""
    values = pa.array(series.array)
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def joined_text(*parts: pd.Series | str) -> pd.Series:
    """The parts' text joined cell by cell (a ``str`` part is the same in every row), a missing cell
    read as ``""``: what ``a.fillna("") + "|" + b.fillna("")`` gives on ``str`` Series, in one Arrow
    pass instead of a new column per ``+`` (a batch's address keys, 120k rows: 32 -> 11 ms)."""
    index = next(p for p in parts if isinstance(p, pd.Series)).index
    text = pa.large_string()
    arrays = [pa.scalar(p, text) if isinstance(p, str) else arrow_values(p.astype("str")).cast(text).fill_null("")
              for p in parts]
    return pd.Series(pc.binary_join_element_wise(*arrays, pa.scalar("", text)), index=index, dtype="str")


def dictionary_codes(series: pd.Series) -> tuple[np.ndarray, pa.Array]:
    """``(codes, distinct)`` of an Arrow-backed Series, encoded by Arrow (no Python object per
    row): ``distinct`` holds its distinct non-null values in order of appearance, ``codes`` each
    row's position in it, -1 for NA (an array that may be read-only)."""
    encoded = pc.dictionary_encode(arrow_values(series))
    return encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False), encoded.dictionary


def as_text(values: pd.Series) -> pd.Series:
    """Cells as trimmed text (``str`` dtype), NA for empty cells.

    XLSX numbers that are whole become their digits (``3601012001.0`` -> ``3601012001``);
    datetimes become ISO dates.
    """
    if values.dtype == object:
        cells = values.to_numpy()
        values = pd.Series(_native_text(cells, cell_types(cells)), index=values.index, name=values.name,
                           dtype=object)
    return _trimmed(values)


def squeeze_whitespace(text: pd.Series, repl: str = " ") -> pd.Series:
    """``text.str.replace(r"[ \t\r\n]+", repl, regex=True)``, rewriting only the cells that need it.

    A regex replace costs about ten regex matches and most cells hold single spaces only.
    """
    if text.dtype == object:
        return text.str.replace(r"[ \t\r\n]+", repl, regex=True)
    needs = text.str.contains(r"[\t\r\n]|  " if repl == " " else r"[ \t\r\n]", regex=True)
    needs = needs.fillna(False).astype(bool)
    if not needs.any():
        return text
    out = text.copy()
    out[needs] = text[needs].str.replace(r"[ \t\r\n]+", repl, regex=True)
    return out


def _split_native(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(text cells, numeric cells as float); each NA where the other kind applies."""
    if values.dtype != object:
        text = values.astype("str").str.strip()
        return text.where(text.ne("")), pd.Series(np.nan, index=values.index)
    cells = values.to_numpy()
    types = cell_types(cells)
    numeric = [(t, at) for t, at in types if _is_number_type(t)]
    numbers = _native_numbers(values, cells, numeric)
    text = pd.Series(_native_text(cells, [(t, at) for t, at in types if not _is_number_type(t)]),
                     index=values.index, name=values.name, dtype=object)
    return _trimmed(text), numbers


_FAST_NUMBER_TYPES = (float, np.float64, int)


def _native_numbers(values: pd.Series, cells: np.ndarray, numeric: list[tuple[type, np.ndarray]]) -> pd.Series:
    """The number cells (positions per type in ``numeric``, :func:`cell_types`) as float64, NaN
    elsewhere, as ``pd.to_numeric`` reads them. ``float``, ``np.float64`` and ``int`` cells within
    int64 are cast per type; any other number type, or a larger int, goes through ``pd.to_numeric``."""
    if all(t in _FAST_NUMBER_TYPES for t, _ in numeric):
        out = np.full(len(cells), np.nan, dtype="float64")
        try:
            for t, at in numeric:
                out[at] = cells[at].astype("int64" if t is int else "float64")
        except OverflowError:  # an int beyond int64
            pass
        else:
            return pd.Series(out, index=values.index, name=values.name)
    is_num = np.zeros(len(cells), dtype=bool)
    for _, at in numeric:
        is_num[at] = True
    return pd.to_numeric(values.where(is_num), errors="coerce").astype("float64")


def _plain_to_float(text: pd.Series) -> pd.Series:
    """Text already matched as a plain decimal (``-12.5``, ``.5``) -> float64, NA -> NaN.

    pyarrow's cast runs in C over the whole column; ``pd.to_numeric`` on strings loops in Python.
    """
    try:
        parsed = pc.cast(pa.array(text.astype("str").array), pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:  # not expected after the pattern checks; keep the tolerant path
        return pd.to_numeric(text, errors="coerce").astype("float64")
    return pd.Series(parsed + 0.0, index=text.index, dtype="float64")  # + 0.0: no -0.0 from "-0"


def _text_to_float(text: pd.Series, *, amount: bool) -> pd.Series:
    """Decimal comma or point; thousand separators when unambiguous (or always for amounts).

    Most cells are plain (``10,5``, ``80``) and take one fast vectorised pass; only the rest
    goes through the separator analysis.
    """
    simple_pattern = r"-?[0-9]+" if amount else r"-?[0-9]+([.,][0-9]+)?"
    simple = text.str.fullmatch(simple_pattern).fillna(False).astype(bool)
    out = pd.Series(np.nan, index=text.index, dtype="float64")
    if simple.any():
        out[simple] = _plain_to_float(text[simple].str.replace(",", ".", regex=False))
    rest = text.notna() & ~simple
    if rest.any():
        out[rest] = _separated_to_float(text[rest], amount=amount)
    return out


def _separated_to_float(text: pd.Series, *, amount: bool) -> pd.Series:
    # The literal NBSP (not an escape) keeps the pattern on pyarrow's RE2 path.
    t = text.str.replace("[ \t\r\n\u00a0%]|^(Rp\\.?|RP\\.?|rp\\.?|IDR)", "", regex=True)
    n_dot = t.str.count(r"\.")
    n_comma = t.str.count(",")
    out = t.copy()
    both = n_dot.gt(0) & n_comma.gt(0)
    # With both separators present, the last one is the decimal separator.
    comma_decimal = both & t.str.fullmatch(r".*,[0-9]*").fillna(False).astype(bool)
    out[comma_decimal] = t[comma_decimal].str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    dot_decimal = both & ~comma_decimal
    out[dot_decimal] = t[dot_decimal].str.replace(",", "", regex=False)
    only_comma = n_comma.gt(0) & n_dot.eq(0)
    single_comma = only_comma & n_comma.eq(1)
    grouped = t.str.fullmatch(r"-?[0-9]{1,3}([.,][0-9]{3})+").fillna(False).astype(bool)
    # "12,500" is 12.5 kg but 12.500 Rupiah: amounts read one 3-digit group as thousands.
    one_group_thousands = grouped if amount else pd.Series(False, index=t.index)
    comma_as_decimal = single_comma & ~one_group_thousands
    out[comma_as_decimal] = t[comma_as_decimal].str.replace(",", ".", regex=False)
    out[only_comma & ~comma_as_decimal] = t[only_comma & ~comma_as_decimal].str.replace(",", "", regex=False)
    only_dot = n_dot.gt(0) & n_comma.eq(0)
    thousand_dots = only_dot & grouped & (n_dot.gt(1) | one_group_thousands)
    out[thousand_dots] = t[thousand_dots].str.replace(".", "", regex=False)
    ok = out.str.fullmatch(r"-?([0-9]+\.?[0-9]*|\.[0-9]+)").fillna(False).astype(bool)
    return _plain_to_float(out.where(ok))


def parse_decimal(
    values: pd.Series, *, zero_is_null: bool = False, sentinels: tuple[float, ...] = (), amount: bool = False
) -> tuple[pd.Series, pd.Series]:
    """Decimal numbers: ``12,5``/``12.5``, ``1.234,5``, ``12.500.000``; optional ``%`` suffix.

    Args:
        values: column as read.
        zero_is_null: ``0`` means "not recorded" (birth weight/length, LiLA, height).
        sentinels: values meaning "not computable" (``999.99`` in exported z-scores) -> NA.
        amount: Rupiah amount: one 3-digit group after a separator is thousands (``12.500``).

    Returns:
        (float64 Series with NaN for missing, bool mask of unparseable present cells)
    """
    text, numbers = _split_native(values)
    parsed = _text_to_float(text, amount=amount)
    result = numbers.where(numbers.notna(), parsed)
    bad = text.notna() & parsed.isna() & numbers.isna()
    if zero_is_null:
        result = result.mask(result.eq(0))
    for s in sentinels:
        result = result.mask(np.isclose(result.fillna(0), s) & result.notna())
    return result, bad.astype(bool)


def parse_int(values: pd.Series, *, amount: bool = False) -> tuple[pd.Series, pd.Series]:
    """Whole numbers (``Int64``); a fractional value is bad (``2,5`` members)."""
    result, bad = parse_decimal(values, amount=amount)
    if amount:
        result = result.round()
    fractional = result.notna() & (result % 1).ne(0)
    return result.mask(fractional).astype("Int64"), (bad | fractional).astype(bool)


def parse_amount(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Rupiah amounts (``12.500.000``, ``Rp 12.500.000,00``, ``12500000``) as ``Int64``."""
    return parse_int(values, amount=True)


def _upper_text(values: pd.Series) -> pd.Series:
    return squeeze_whitespace(as_text(values).str.upper())


def parse_bool(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``Ya``/``Tidak``, ``Y``/``T``, ``1``/``0``, true/false (case-insensitive) -> ``boolean``."""
    if values.dtype == object:
        values = values.map(lambda v: ("1" if v else "0") if isinstance(v, bool) else v)
    text = _upper_text(values)
    out = pd.Series(pd.NA, index=values.index, dtype="boolean")
    out[text.isin(TRUE_WORDS).astype(bool)] = True
    out[text.isin(FALSE_WORDS).astype(bool)] = False
    bad = text.notna() & out.isna()
    return out, bad.astype(bool)


def parse_enum(values: pd.Series, mapping: dict[str, object], dtype: str = "object") -> tuple[pd.Series, pd.Series]:
    """Map upper-cased, space-collapsed text through ``mapping`` (keys upper case)."""
    text = _upper_text(values)
    out = text.map(mapping).astype(dtype)
    bad = text.notna() & out.isna()
    return out, bad.astype(bool)


SEX_CODES = {"L": 1, "LAKI-LAKI": 1, "LAKI LAKI": 1, "1": 1, "P": 2, "PEREMPUAN": 2, "2": 2}
MEASURE_CODES = {"TERLENTANG": "l", "BERBARING": "l", "BERDIRI": "h"}


def parse_sex(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``L``/``P`` (or spelled out, or 1/2) -> 1/2 as ``Int64``."""
    return parse_enum(values, SEX_CODES, "Int64")


def parse_measure(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``Terlentang`` -> ``'l'`` (lying, length), ``Berdiri`` -> ``'h'`` (standing, height)."""
    return parse_enum(values, MEASURE_CODES, "str")


def clean_label(values: pd.Series) -> pd.Series:
    """Free-text category/label: trimmed; empty and ``-`` -> NA."""
    text = squeeze_whitespace(as_text(values))
    return text.where(text.ne("-"))
