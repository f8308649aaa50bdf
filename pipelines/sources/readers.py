"""Bytes -> table of cells with canonical column names, one reader per file format.

The format is detected from the bytes (XLSX = zip holding ``xl/`` parts, JSON = ``[`` or ``{``
first, anything else = delimited text), never trusted from the extension; a disagreement is a
``format_mismatch`` file error. Headers are mapped through the layout's alias table after
:func:`~pipelines.sources.layouts.normalise_header`, never by position.

CSV cells stay strings (``dtype=str``, no NA guessing). XLSX cells keep their native type so
Excel serial dates and datetimes can be recognised later. JSON values keep their JSON type.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import zipfile
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipelines.sources.layouts import Layout, header_aliases, normalise_header

MAX_ROWS = 1_048_576  # Excel's own sheet limit
MAX_COLS = 256
HEADER_SCAN_ROWS = 10  # XLSX exports sometimes carry a title row or two above the header
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

    frame: pd.DataFrame
    row_numbers: np.ndarray  # spreadsheet row per frame row (header = 1); JSON: record index
    file_format: str
    warnings: list[str] = field(default_factory=list)
    bad_rows: list[tuple[int, str]] = field(default_factory=list)  # (row_number, detail)


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


def _map_headers(
    headers: list[object], layout: Layout, warnings: list[str]
) -> tuple[list[int], list[str]]:
    """Positions and canonical names of the recognised headers; warns about the rest."""
    aliases = header_aliases(layout)
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
    bad_rows: list[tuple[int, str]] = []
    try:
        df = pd.read_csv(
            io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False,
            skip_blank_lines=False, quotechar='"', engine="c", header=None,
        )
    except pd.errors.ParserError:
        df, bad_rows = _read_csv_tolerant(text, delimiter)
    except pd.errors.EmptyDataError as exc:
        raise FileError("empty", "no header line") from exc
    df = df.fillna("")
    headers = list(df.iloc[0]) if len(df) else []
    body = df.iloc[1:]
    row_numbers = np.arange(2, len(body) + 2)
    keep = (body != "").any(axis=1).to_numpy()
    body, row_numbers = body[keep], row_numbers[keep]
    positions, names = _map_headers(headers, layout, warnings)
    frame = body.iloc[:, positions].astype("str")
    frame.columns = names
    return RawTable(frame.reset_index(drop=True), row_numbers, "csv", warnings, bad_rows)


def _read_csv_tolerant(text: str, delimiter: str) -> tuple[pd.DataFrame, list[tuple[int, str]]]:
    """Row-by-row fallback used only when pandas meets a row with too many cells: such rows
    are blanked and reported as ``malformed_row`` instead of failing the whole file."""
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter, quotechar='"'))
    width = len(rows[0]) if rows else 0
    bad: list[tuple[int, str]] = []
    fixed = []
    for i, row in enumerate(rows):
        if len(row) > width and any(cell.strip() for cell in row[width:]):
            bad.append((i + 1, f"row has {len(row)} cells, header has {width}"))
            row = [""] * width
        fixed.append((row + [""] * width)[:width])
    return pd.DataFrame(fixed, dtype="str"), bad


def _read_xlsx(content: bytes, layout: Layout) -> RawTable:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for broken workbooks
        raise FileError("not_xlsx", f"workbook cannot be opened ({type(exc).__name__})") from exc
    warnings: list[str] = []
    try:
        if not wb.worksheets:
            raise FileError("not_xlsx", "workbook has no sheets")
        ws = wb.worksheets[0]
        if len(wb.worksheets) > 1:
            warnings.append(f"only the first sheet {ws.title!r} was read")
        rows: list[tuple] = []
        for i, row in enumerate(ws.iter_rows(values_only=True, max_col=MAX_COLS)):
            if i > MAX_ROWS:
                raise FileError("too_large", f"more than {MAX_ROWS} rows")
            rows.append(row)
    finally:
        wb.close()
    aliases = header_aliases(layout)
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
    for offset, row in enumerate(rows[header_idx + 1:]):
        cells = [row[p] if p < len(row) else None for p in positions]
        if any(c is not None and str(c).strip() != "" for c in cells):
            body.append(cells)
            numbers.append(header_idx + offset + 2)
    frame = pd.DataFrame(body, columns=names, dtype=object) if body else pd.DataFrame(columns=names, dtype=object)
    return RawTable(frame, np.asarray(numbers, dtype=int), "xlsx", warnings)


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
    frame = pd.DataFrame(body, columns=names, dtype=object) if body else pd.DataFrame(columns=names, dtype=object)
    return RawTable(frame, np.arange(1, len(body) + 1), "json", warnings)


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
