"""XLSX workbooks (first sheet) -> :class:`~pipelines.parsing.cells.RawTable`.

Cells keep their native type so Excel serial dates and datetimes can be recognised later. The
workbook's declared sizes are checked before (:mod:`~pipelines.parsing.xlsx_limits`) and the
reading runs in a child process (:mod:`~pipelines.parsing.isolated`).
"""

from __future__ import annotations

import datetime as dt
import io

import numpy as np

from pipelines.parsing.cells import (
    HEADER_SCAN_ROWS,
    MAX_CELL,
    MAX_COLS,
    MAX_ROWS,
    FileError,
    ParseWarning,
    RawTable,
    columns_of,
    layout_aliases,
    map_headers,
    text_columns_as_arrow,
)
from pipelines.parsing.layouts import Layout, normalise_header


def _xlsx_cell(value: object) -> object:
    """calamine's cell as openpyxl (data_only) gives it: None for empty, int for whole numbers,
    datetime for dates, so parsing does not depend on the reader."""
    if value == "" or value is None:
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day)
    return value


def read_xlsx(content: bytes, layout: Layout) -> RawTable:
    """The first sheet's cells. Unguarded: call it through
    :func:`~pipelines.parsing.readers.read_tables`, which checks the workbook first and runs this
    in a child process (calamine aborts the process on a workbook it cannot allocate)."""
    # calamine (Rust) reads a sheet about 9x faster than openpyxl; values are normalised to what
    # openpyxl returns (see _xlsx_cell).
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(content))
        names = wb.sheet_names
        if not names:
            raise FileError("not_xlsx", "workbook has no sheets")
        grid = wb.get_sheet_by_index(0).to_python(skip_empty_area=False)
    except FileError:
        raise
    except Exception as exc:  # calamine raises its own error types for broken workbooks
        raise FileError("not_xlsx", f"workbook cannot be opened ({type(exc).__name__})") from exc
    warnings: list[ParseWarning] = []
    if len(names) > 1:
        warnings.append(ParseWarning("sheet_ignored", f"only the first sheet {names[0]!r} was read"))
    if len(grid) > MAX_ROWS + 1:
        raise FileError("too_large", f"more than {MAX_ROWS} rows")
    rows = [tuple(_xlsx_cell(v) for v in row[:MAX_COLS]) for row in grid]
    aliases = layout_aliases(layout)
    header_idx = 0
    for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        if sum(normalise_header(c) in aliases for c in row if c is not None) >= 2:
            header_idx = i
            break
    if not rows:
        raise FileError("empty", "first sheet is empty")
    headers = list(rows[header_idx])
    positions, names = map_headers(headers, layout, warnings)
    body = []
    numbers = []
    too_long = []
    for offset, row in enumerate(rows[header_idx + 1:]):
        cells = [row[p] if p < len(row) else None for p in positions]
        if any(c is not None and str(c).strip() != "" for c in cells):
            longest = max((len(c) for c in row if isinstance(c, str)), default=0)
            if longest > MAX_CELL:
                too_long.append((header_idx + offset + 2, f"a cell of {longest:,} characters (limit {MAX_CELL:,})",
                                 "value_too_long"))
                continue
            body.append(cells)
            numbers.append(header_idx + offset + 2)
    columns = text_columns_as_arrow(columns_of(body, range(len(names))))
    return RawTable(names, columns, np.asarray(numbers, dtype="int64"), "xlsx", warnings, too_long)
