"""Bytes -> table of cells with canonical column names, one reader per file format.

The format is detected from the bytes (XLSX = zip holding ``xl/`` parts, JSON = ``[`` or ``{``
first, anything else = delimited text), never trusted from the extension; a disagreement is a
``format_mismatch`` file error. Headers are mapped through the layout's alias table after
:func:`~pipelines.parsing.layouts.normalise_header`, never by position.

CSV cells stay strings (no NA guessing). XLSX cells keep their native type so Excel serial
dates and datetimes can be recognised later. JSON values keep their JSON type. Cells are kept
as one object array per column: the parser concatenates the columns of many files and types
them once, so a file costs no pandas work of its own.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import re
import zipfile
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from pipelines.parsing.layouts import Layout, header_aliases, normalise_header

MAX_ROWS = 1_048_576  # Excel's own sheet limit
MAX_COLS = 256
# Longest cell kept (bytes of UTF-8 for CSV, characters for XLSX). No field of any layout comes
# near it; a row with a longer cell is quarantined as ``value_too_long`` and its cell never
# travels further (a 10 MB cell would otherwise ride along into payloads and logs).
MAX_CELL = 4096
HEADER_SCAN_ROWS = 10
# Below this size pyarrow's fixed cost per call exceeds the csv module's whole read.
ARROW_MIN_BYTES = 16_384  # XLSX exports sometimes carry a title row or two above the header
DELIMITERS = (";", ",", "\t")
_EXPECTED = {"csv": "text", "txt": "text", "tsv": "text", "xlsx": "xlsx", "json": "json"}
_DIGIT_RUN = re.compile(r"\d{6,}")
_CONTROL = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")


class FileError(Exception):
    """The whole file is unusable; ``code`` is the reason code (``undecodable``, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class RawTable:
    """Cells of one file under canonical column names (unknown columns dropped)."""

    names: list[str]  # canonical column names, in file order
    cells: list[np.ndarray | pa.Array]  # one array per name: CSV text as arrow strings, else objects
    row_numbers: np.ndarray  # spreadsheet row per frame row (header = 1); JSON: record index
    file_format: str
    warnings: list[str] = field(default_factory=list)
    # (row_number, detail) quarantined as malformed_row, or (row_number, detail, reason_code)
    bad_rows: list[tuple] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.row_numbers)

    @property
    def frame(self) -> pd.DataFrame:
        """The cells as a frame (``object`` dtype)."""
        cells = [c.to_numpy(zero_copy_only=False) if isinstance(c, pa.Array) else c for c in self.cells]
        return pd.DataFrame(dict(zip(self.names, cells, strict=True)), columns=self.names, dtype=object,
                            index=pd.RangeIndex(len(self)))


def _columns(body: list[list[object]], positions: list[int]) -> list[np.ndarray]:
    """Object array per chosen position of rectangular row lists."""
    if not body:
        return [np.empty(0, dtype=object) for _ in positions]
    grid = np.empty((len(body), len(body[0])), dtype=object)
    grid[:] = body
    return [grid[:, p].copy() for p in positions]


def detect_format(content: bytes) -> str:
    """``xlsx``, ``zip`` (a zip that is not a workbook), ``xls`` (legacy OLE2), ``json`` or ``text``."""
    if content[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as zf:
                names = zf.namelist()
        except zipfile.BadZipFile:
            return "zip"
        return "xlsx" if any(n.startswith("xl/") for n in names) else "zip"
    if content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return "xls"
    head = content[:64].lstrip(codecs.BOM_UTF8).lstrip()
    if head[:1] in (b"[", b"{"):
        return "json"
    return "text"


def decode_text(content: bytes) -> tuple[str, str]:
    """Text and the encoding used: UTF-8 (BOM or not), UTF-16 with BOM, else Windows-1252.

    Raises:
        FileError: ``undecodable`` when neither works or the result holds NULs/control bytes.
    """
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ("utf-16",)
    elif content.startswith(codecs.BOM_UTF8):
        candidates = ("utf-8-sig",)
    else:
        candidates = ("utf-8", "cp1252")
    for encoding in candidates:
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            continue
        sample = text[:65536]  # a text file has (almost) no control characters anywhere
        controls = len(_CONTROL.findall(sample))
        if "\x00" in text or controls > max(2, len(sample) // 1000):
            raise FileError("undecodable", f"binary content (NUL or control bytes) read as {encoding}")
        return text, encoding
    raise FileError("undecodable", f"not valid text in {' or '.join(candidates)}")


def sniff_delimiter(header_line: str) -> str:
    """The delimiter among ``;``, ``,`` and tab occurring most often outside quotes."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in header_line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _safe_header(header: object) -> str:
    # A file without a header row turns its first data row into "headers"; mask long digit
    # runs (NIKs, phone numbers) so a warning never carries them.
    return _DIGIT_RUN.sub("<digits>", str(header))[:60]


_ALIASES: dict[str, tuple[Layout, dict[str, str]]] = {}


def _aliases(layout: Layout) -> dict[str, str]:
    """The layout's alias table, built once per layout."""
    cached = _ALIASES.get(layout.stream)
    if cached is None or cached[0] is not layout:
        cached = _ALIASES[layout.stream] = (layout, header_aliases(layout))
    return cached[1]


def _map_headers(
    headers: list[object], layout: Layout, warnings: list[str]
) -> tuple[list[int], list[str]]:
    """Positions and canonical names of the recognised headers; warns about the rest."""
    aliases = _aliases(layout)
    positions, names, unknown = [], [], []
    for pos, header in enumerate(headers):
        if header is None or str(header).strip() == "":
            continue
        canonical = aliases.get(normalise_header(header))
        if canonical is None:
            unknown.append(_safe_header(header))
        elif canonical in names:
            warnings.append(f"duplicate column {_safe_header(header)!r} for {canonical}: first one kept")
        else:
            positions.append(pos)
            names.append(canonical)
    missing = [h for c, h in layout.columns if c in layout.required and c not in names]
    if missing:
        hint = "" if names else " (no known header found: is the first row a header?)"
        raise FileError("missing_columns", ", ".join(missing) + hint)
    if unknown:
        warnings.append(f"unknown columns dropped: {', '.join(unknown)}")
    return positions, names


def _read_csv(content: bytes, layout: Layout) -> RawTable:
    text, encoding = decode_text(content)
    if not text.strip():
        raise FileError("empty", "file holds no text")
    first_line = text.lstrip("\r\n").split("\n", 1)[0]
    delimiter = sniff_delimiter(first_line)
    warnings = [] if encoding.startswith("utf-8") else [f"decoded as {encoding}"]
    arrow = None
    if len(content) >= ARROW_MIN_BYTES:
        utf8 = content[len(codecs.BOM_UTF8):] if encoding == "utf-8-sig" else content
        arrow = _read_csv_arrow(utf8 if encoding.startswith("utf-8") else text.encode("utf-8"), delimiter)
    if arrow is not None:
        headers, columns, row_numbers, too_long = arrow
        positions, names = _map_headers(headers, layout, warnings)
        return RawTable(names, [columns[p] for p in positions], row_numbers, "csv", warnings, too_long)
    # The csv module refuses fields over 128 KiB and would reject the whole file; read them and
    # let _rectangular quarantine just the row (value_too_long).
    if csv.field_size_limit() < len(text) + 1:
        csv.field_size_limit(max(len(text) + 1, 1 << 20))
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter, quotechar='"'))
    except csv.Error as exc:  # e.g. a cell beyond the csv module's field size limit
        raise FileError("undecodable", f"not readable as delimited text ({type(exc).__name__})") from exc
    if not rows:
        raise FileError("empty", "no header line")
    body, row_numbers, bad_rows = _rectangular(rows)
    positions, names = _map_headers(rows[0], layout, warnings)
    return RawTable(names, _columns(body, positions), row_numbers, "csv", warnings, bad_rows)


_ARROW_READ = pcsv.ReadOptions(autogenerate_column_names=True, use_threads=False, block_size=1 << 30)
_ARROW_CONVERT = pcsv.ConvertOptions(
    column_types={f"f{i}": pa.large_string() for i in range(MAX_COLS)},
    strings_can_be_null=False, quoted_strings_can_be_null=False, null_values=[],
)


def _read_csv_arrow(data: bytes, delimiter: str) -> tuple[list[str], list[pa.Array], np.ndarray] | None:
    """Fast path for a well-formed file: pyarrow's C reader, cells straight into arrow strings.

    Returns ``None`` (so the row-by-row reader decides) when any row has a different number of
    cells than the header, or the file is wider than :data:`MAX_COLS`.
    """
    parse = pcsv.ParseOptions(delimiter=delimiter, quote_char='"', double_quote=True, escape_char=False,
                              newlines_in_values=True, ignore_empty_lines=False)
    try:
        table = pcsv.read_csv(io.BytesIO(data), read_options=_ARROW_READ, parse_options=parse,
                              convert_options=_ARROW_CONVERT)
    except pa.ArrowInvalid:
        return None
    if table.num_columns > MAX_COLS or table.num_rows == 0:
        return None
    columns = [c.chunk(0) if c.num_chunks == 1 else c.combine_chunks() for c in table.columns]
    headers = [c[0].as_py() for c in columns]
    # A row of empty cells only is dropped (its number is not reused): its cells' total length
    # is 0, read off the string offsets without a compute call per column.
    n = table.num_rows
    length = np.zeros(n, dtype="int64")
    longest = np.zeros(n, dtype="int64")
    for c in columns:
        offsets = np.frombuffer(c.buffers()[1], dtype="int64")[c.offset:c.offset + n + 1]
        cell = np.diff(offsets)
        length += cell
        np.maximum(longest, cell, out=longest)
    keep = length[1:] > 0
    numbers = np.arange(2, n + 1, dtype="int64")
    oversized = longest[1:] > MAX_CELL
    too_long = [(int(numbers[i]), f"a cell of {int(longest[i + 1]):,} bytes (limit {MAX_CELL:,})", "value_too_long")
                for i in np.flatnonzero(oversized)]
    keep &= ~oversized
    body = [c.slice(1) for c in columns]
    if not keep.all():
        mask = pa.array(keep)
        body = [pc.filter(c, mask) for c in body]
        numbers = numbers[keep]
    return headers, body, numbers, too_long


def _rectangular(rows: list[list[str]]) -> tuple[list[list[str]], np.ndarray, list[tuple[int, str]]]:
    """Data rows cut or padded to the header's width, blank rows dropped (their numbers kept).

    A row with more non-empty cells than the header has is not guessed at: it is reported as
    ``malformed_row`` (row_number, detail) instead of failing the whole file.
    """
    width = len(rows[0])
    body: list[list[str]] = []
    numbers: list[int] = []
    bad: list[tuple[int, str]] = []
    for number, row in enumerate(rows[1:], start=2):
        n = len(row)
        if n != width:
            if n > width:
                if any(cell.strip() for cell in row[width:]):
                    bad.append((number, f"row has {n} cells, header has {width}"))
                    continue
                row = row[:width]
            else:
                row = row + [""] * (width - n)
        if any(row):
            longest = max(len(cell) for cell in row)
            if longest > MAX_CELL:
                bad.append((number, f"a cell of {longest:,} characters (limit {MAX_CELL:,})", "value_too_long"))
                continue
            body.append(row)
            numbers.append(number)
    return body, np.asarray(numbers, dtype="int64"), bad


# A workbook whose XML inflates past this is refused before it is parsed (a zip bomb, or a sheet
# far beyond any real e-PPGBM export: the largest Banten village file inflates to about 3 MB).
MAX_XLSX_INFLATED_BYTES = 256 * 1024 * 1024
MAX_XLSX_RATIO = 200


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


def _check_inflation(content: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            inflated = sum(i.file_size for i in zf.infolist())
    except zipfile.BadZipFile as exc:
        raise FileError("not_xlsx", "workbook cannot be opened (BadZipFile)") from exc
    if inflated > MAX_XLSX_INFLATED_BYTES or inflated > MAX_XLSX_RATIO * max(len(content), 1) + 16 * 1024 * 1024:
        raise FileError(
            "too_large", f"workbook inflates to {inflated:,} bytes from {len(content):,} (zip bomb or oversized sheet)"
        )


def _read_xlsx(content: bytes, layout: Layout) -> RawTable:
    # calamine (Rust) reads a sheet about 9x faster than openpyxl; values are normalised to what
    # openpyxl returns (see _xlsx_cell), and the zip's declared sizes are checked first.
    from python_calamine import CalamineWorkbook

    _check_inflation(content)
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
    warnings: list[str] = []
    if len(names) > 1:
        warnings.append(f"only the first sheet {names[0]!r} was read")
    if len(grid) > MAX_ROWS + 1:
        raise FileError("too_large", f"more than {MAX_ROWS} rows")
    rows = [tuple(_xlsx_cell(v) for v in row[:MAX_COLS]) for row in grid]
    aliases = _aliases(layout)
    header_idx = 0
    for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        if sum(normalise_header(c) in aliases for c in row if c is not None) >= 2:
            header_idx = i
            break
    if not rows:
        raise FileError("empty", "first sheet is empty")
    headers = list(rows[header_idx])
    positions, names = _map_headers(headers, layout, warnings)
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
    return RawTable(names, _columns(body, range(len(names))), np.asarray(numbers, dtype="int64"), "xlsx", warnings,
                    too_long)


def _read_json(content: bytes, layout: Layout) -> RawTable:
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
    warnings: list[str] = []
    positions, names = _map_headers(list(headers), layout, warnings)
    keys = list(headers)
    chosen = [keys[p] for p in positions]

    def cell(v: object) -> object:
        return json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v

    body = [[cell(rec.get(k)) for k in chosen] for rec in data]
    return RawTable(names, _columns(body, range(len(names))), np.arange(1, len(body) + 1, dtype="int64"), "json",
                    warnings)


def read_table(content: bytes, file_name: str, layout: Layout) -> RawTable:
    """Read one submission file into canonical columns.

    Args:
        content: the file's bytes.
        file_name: used only for its extension (checked against the detected format).
        layout: the stream's layout (headers, aliases, required columns).

    Raises:
        FileError: ``format_mismatch``, ``not_xlsx``, ``undecodable``, ``bad_json``, ``empty``,
            ``too_large`` or ``missing_columns``.
    """
    detected = detect_format(content)
    ext = file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
    expected = _EXPECTED.get(ext)
    if detected in ("zip", "xls"):
        raise FileError("not_xlsx", f"{detected} content is not an .xlsx workbook")
    if expected is not None and expected != detected:
        raise FileError("format_mismatch", f".{ext} file holds {detected} content")
    reader = {"xlsx": _read_xlsx, "json": _read_json, "text": _read_csv}[detected]
    return reader(content, layout)
