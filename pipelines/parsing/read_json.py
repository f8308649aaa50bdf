"""JSON (a list of objects, or ``{"rows": [...]}``) -> :class:`~pipelines.parsing.cells.RawTable`.

Values keep their JSON type; nested objects and lists are kept as JSON text.
"""

from __future__ import annotations

import json

import numpy as np

from pipelines.parsing.cells import FileError, ParseWarning, RawTable, columns_of, map_headers
from pipelines.parsing.layouts import Layout


def read_json(content: bytes, layout: Layout) -> RawTable:
    try:
        data = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FileError("bad_json", f"not valid JSON ({type(exc).__name__})") from exc
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
        return json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v

    body = [[cell(rec.get(k)) for k in chosen] for rec in data]
    return RawTable(names, columns_of(body, range(len(names))), np.arange(1, len(body) + 1, dtype="int64"), "json",
                    warnings)
