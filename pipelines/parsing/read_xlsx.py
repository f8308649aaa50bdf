"""XLSX workbooks (first sheet) -> :class:`~pipelines.parsing.cells.RawTable`.

Cells keep their native type so Excel serial dates and datetimes can be recognised later. The
workbook's declared sizes are checked before (:mod:`~pipelines.parsing.xlsx_limits`) and the
reading runs in a child process (:mod:`~pipelines.parsing.isolated`).
"""

from __future__ import annotations

import datetime as dt
import io
import itertools

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.parsing.cells import (
    HEADER_SCAN_ROWS,
    MAX_CELL,
    MAX_COLS,
    MAX_ROWS,
    FileError,
    ParseWarning,
    RawTable,
    cell_bytes,
    layout_aliases,
    map_headers,
    text_columns_as_arrow,
)
from pipelines.parsing.layouts import Layout, normalise_header
from pipelines.parsing.xlsx_native import native_grid


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


def read_xlsx(content: bytes, layout: Layout, sheet_xml: bytes | None = None) -> RawTable:
    """The first sheet's cells. Unguarded: call it through
    :func:`~pipelines.parsing.readers.read_tables`, which checks the workbook first and runs this
    in a child process (calamine aborts the process on a workbook it cannot allocate).
    ``sheet_xml``: the first sheet's XML as the check inflated it (read, not inflated again)."""
    # A workbook written the plain way is read natively into the grid calamine would give
    # (xlsx_native, about 4x faster); any other by calamine (Rust, about 9x faster than openpyxl). Values
    # are normalised to what openpyxl returns (see _xlsx_cell).
    found = native_grid(content, sheet_xml)
    names, grid = found if found is not None else _calamine_grid(content)
    warnings: list[ParseWarning] = []
    if len(names) > 1:
        warnings.append(ParseWarning("sheet_ignored", f"only the first sheet {names[0]!r} was read"))
    if len(grid) > MAX_ROWS + 1:
        raise FileError("too_large", f"more than {MAX_ROWS} rows")
    aliases = layout_aliases(layout)
    header_idx = 0
    for i, row in enumerate(grid[:HEADER_SCAN_ROWS]):
        if sum(normalise_header(c) in aliases for c in map(_xlsx_cell, row[:MAX_COLS]) if c is not None) >= 2:
            header_idx = i
            break
    if not grid:
        raise FileError("empty", "first sheet is empty")
    headers = [_xlsx_cell(c) for c in grid[header_idx][:MAX_COLS]]
    positions, names = map_headers(headers, layout, warnings)
    rows = grid[header_idx + 1:]
    body = _columns(rows, max([len(headers)] + [min(len(r), MAX_COLS) for r in rows]))
    row_numbers = np.arange(header_idx + 2, header_idx + 2 + len(rows), dtype="int64")
    kinds = [set(map(type, cells)) for cells in body]
    text = [_as_text_column(cells, kind) for cells, kind in zip(body, kinds, strict=True)]
    numeric = [column is None and _numbers_only(cells, kind) for cells, kind, column in zip(body, kinds, text,
                                                                                          strict=True)]
    kept = _filled(len(rows), body, text, numeric, positions)
    longest = _longest_text(len(rows), body, text, numeric, kept)
    too_long = [(int(n), f"a cell of {int(k):,} characters (limit {MAX_CELL:,})", "value_too_long")
                for n, k in zip(row_numbers[kept & (longest > MAX_CELL)], longest[kept & (longest > MAX_CELL)],
                                strict=True)]
    kept &= longest <= MAX_CELL
    columns = [_typed_column(body[p], text[p], numeric[p], kept) for p in positions]
    return RawTable(names, columns, row_numbers[kept], "xlsx", warnings, too_long)


def _calamine_grid(content: bytes) -> tuple[list[str], list[list[object]]]:
    """``(sheet names, grid of the first sheet)`` as python-calamine reads them.

    Raises:
        FileError: ``not_xlsx`` when calamine cannot open the workbook.
    """
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(content))
        names = wb.sheet_names
        if not names:
            raise FileError("not_xlsx", "workbook has no sheets")
        return names, wb.get_sheet_by_index(0).to_python(skip_empty_area=False)
    except FileError:
        raise
    except Exception as exc:  # calamine raises its own error types for broken workbooks
        raise FileError("not_xlsx", f"workbook cannot be opened ({type(exc).__name__})") from exc


def _columns(rows: list[list[object]], width: int) -> list[tuple[object, ...]]:
    """The sheet's rows below the header as ``width`` columns of cells (a short row's missing cells
    read as None), transposed at C speed by ``zip``."""
    if not rows:
        return [() for _ in range(width)]
    if any(len(r) < width for r in rows):
        rows = [r if len(r) >= width else [*r, *([None] * (width - len(r)))] for r in rows]
    return list(itertools.islice(zip(*rows, strict=False), width))


def _as_text_column(cells: tuple[object, ...], kinds: set[type]) -> pa.Array | None:
    """A column whose cells are all text (empty ones included) as Arrow text, ``""`` read as
    null; None when some cell is a number, a date or a boolean (those keep their type).
    ``kinds``: the cells' types."""
    if not kinds <= _TEXT_KINDS:
        return None
    text = pa.array(cells, type=pa.large_string())
    if "" not in cells:  # a scan at C speed: most text columns have no empty cell to null
        return text
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.large_string()), text)


_TEXT_KINDS = {str, type(None)}


def _filled(n: int, body: list[tuple[object, ...]], text: list[pa.Array | None], numeric: list[bool],
            positions: list[int]) -> np.ndarray:
    """Rows where some cell of a recognised column holds something (not only white space)."""
    filled = np.zeros(n, dtype=bool)
    for p in positions:
        todo = np.flatnonzero(~filled)
        if not len(todo):
            break
        if text[p] is not None:  # white space as Python's str.strip() sees it, once per distinct text
            encoded = pc.dictionary_encode(text[p].take(pa.array(todo)))
            blank = np.array([not v.strip() for v in encoded.dictionary.to_pylist()] + [True], dtype=bool)
            codes = encoded.indices.fill_null(len(blank) - 1).to_numpy(zero_copy_only=False)
            filled[todo] = ~blank[codes]
        elif numeric[p]:  # numbers and "" only: a number is something
            filled |= _objects(body[p]) != ""
        else:
            cells = _objects(body[p])
            filled[todo] = [c is not None and str(c).strip() != "" for c in cells[todo]]
    return filled


def _objects(cells: tuple[object, ...]) -> np.ndarray:
    out = np.empty(len(cells), dtype=object)
    out[:] = cells
    return out


def _longest_text(n: int, body: list[tuple[object, ...]], text: list[pa.Array | None], numeric: list[bool],
                  kept: np.ndarray) -> np.ndarray:
    """Per row, the length of its longest text cell in any column (0 for none), for ``kept`` rows."""
    longest = np.zeros(n, dtype="int64")
    for p, column in enumerate(text):
        if column is not None:
            if not len(column) or cell_bytes(column).max() <= MAX_CELL:
                # no cell of it can be too long (a character takes at least one byte), and the
                # longest cell of a row matters only where it is: a longer one in another column
                continue
            lengths = pc.utf8_length(column).fill_null(0).to_numpy(zero_copy_only=False)
        elif numeric[p]:
            continue
        else:
            lengths = np.fromiter((len(c) if isinstance(c, str) else 0 for c in body[p]), "int64", n)
        np.maximum(longest, np.where(kept, lengths, 0), out=longest)
    return longest


def _numbers_only(cells: tuple[object, ...], kinds: set[type]) -> bool:
    """Whether every cell is a float or empty (a numeric column: weights, z-scores, serial dates)."""
    if not kinds <= _NUMBER_KINDS:
        return False
    return str not in kinds or cells.count("") == sum(map(isinstance, cells, itertools.repeat(str)))


_NUMBER_KINDS = {float, str}


def _as_openpyxl(cells: np.ndarray, numeric: bool) -> np.ndarray:
    """:func:`_xlsx_cell` of every cell, column-wise when the column holds numbers only."""
    if numeric:
        filled = cells != ""
        numbers = cells[filled].astype("float64")
        whole = (numbers == np.floor(numbers)) & (np.abs(numbers) < 2**53)
        values = numbers.astype(object)
        values[whole] = numbers[whole].astype("int64").astype(object)
        out = np.full(len(cells), None, dtype=object)
        out[filled] = values
        return out
    return np.array([_xlsx_cell(c) for c in cells] + [None], dtype=object)[:-1]


def _typed_column(cells: tuple[object, ...], text: pa.Array | None, numeric: bool, kept: np.ndarray
                  ) -> np.ndarray | pa.Array:
    """A recognised column of the kept rows: Arrow text when every cell is text, else the cells as
    openpyxl gives them (:func:`_xlsx_cell`)."""
    if not kept.any():
        return np.empty(0, dtype=object)
    if text is not None:
        return text if kept.all() else text.filter(pa.array(kept))
    return text_columns_as_arrow([_as_openpyxl(_objects(cells)[kept], numeric)])[0]
