"""JSON (a list of objects, or ``{"rows": [...]}``) -> :class:`~pipelines.parsing.cells.RawTable`.

Values keep their JSON type; nested objects and lists are kept as JSON text. A document nested
deeper than :data:`MAX_JSON_DEPTH`, or holding an integer longer than Python converts (4,300
digits by default), is refused as ``bad_json``: neither is a real export, and both would
otherwise fail deep inside the parser. An integer beyond 64 bits is kept as its digits.
"""

from __future__ import annotations

import json
import sys

import numpy as np

from pipelines.parsing.cells import (
    FileError,
    ParseWarning,
    RawTable,
    columns_of,
    map_headers,
    text_columns_as_arrow,
)
from pipelines.parsing.layouts import Layout

# Records are objects of scalars; a value may be a small object or list (kept as text). Deeper
# nesting than this is refused; Python's own recursion limit would otherwise decide (about 1,000).
MAX_JSON_DEPTH = 32
_TOO_DEEP = f"nested more than {MAX_JSON_DEPTH} levels deep"


def read_json(content: bytes, layout: Layout) -> RawTable:
    data = _load(content)
    if isinstance(data, dict):
        data = data.get("rows")
    if not isinstance(data, list):
        raise FileError("bad_json", 'expected a list of objects or {"rows": [...]}')
    headers: dict[str, None] = {}
    for i, rec in enumerate(data, start=1):
        if not isinstance(rec, dict):
            raise FileError("bad_json", f"record {i} is not an object")
        headers.update(dict.fromkeys(rec))
    warnings: list[ParseWarning] = []
    positions, names = map_headers(list(headers), layout, warnings)
    keys = list(headers)
    chosen = [keys[p] for p in positions]

    def cell(v: object) -> object:
        if not isinstance(v, dict | list):
            return v
        if _deeper_than(v, MAX_JSON_DEPTH - 2):  # the list of records and the record are two levels
            raise FileError("bad_json", _TOO_DEEP)
        return json.dumps(v, ensure_ascii=False)

    body = [[cell(rec.get(k)) for k in chosen] for rec in data]
    columns = text_columns_as_arrow(columns_of(body, range(len(names))))
    return RawTable(names, columns, np.arange(1, len(body) + 1, dtype="int64"), "json", warnings)


def _load(content: bytes) -> object:
    try:
        return json.loads(content.decode("utf-8-sig"), parse_int=_integer)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FileError("bad_json", f"not valid JSON ({type(exc).__name__})") from exc
    except RecursionError as exc:
        raise FileError("bad_json", _TOO_DEEP) from exc


def _integer(digits: str) -> int | str:
    """A JSON integer: an int within 64 bits, else its digits as text (no field holds such a
    number, and typing it as a number would overflow); refused past Python's limit on integer
    digits (CVE-2020-10735: 4,300 unless configured)."""
    if len(digits.lstrip("-")) <= 18:
        return int(digits)
    limit = sys.get_int_max_str_digits()
    if limit and len(digits.lstrip("-")) > limit:
        raise FileError("bad_json", f"a number with {len(digits.lstrip('-')):,} digits (limit {limit:,})")
    return digits


def _deeper_than(value: object, limit: int) -> bool:
    """Whether ``value`` nests lists or objects more than ``limit`` levels (walked without
    recursion)."""
    level = [value]
    for _ in range(limit):
        level = [v for item in level for v in (item.values() if isinstance(item, dict) else item)
                 if isinstance(v, dict | list)]
        if not level:
            return False
    return True
