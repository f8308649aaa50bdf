"""Delimited text (CSV, semicolon or tab separated) -> :class:`~pipelines.parsing.cells.RawTable`.

Cells stay strings (no NA guessing). A well-formed file of some size goes through pyarrow's C
reader; anything else (short files, ragged rows) through the csv module row by row, where a
malformed row is quarantined alone instead of failing the whole file.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from pipelines.parsing.cells import (
    MAX_CELL,
    MAX_COLS,
    FileError,
    ParseWarning,
    RawTable,
    cell_bytes,
    cell_offsets,
    columns_of,
    map_headers,
)
from pipelines.parsing.layouts import Layout

# Below this size pyarrow's fixed cost per call exceeds the csv module's whole read.
ARROW_MIN_BYTES = 16_384
# The longest first line a file within the limits can have: MAX_COLS quoted fields of MAX_CELL
# bytes and their delimiters. A longer one is refused before the file is parsed.
MAX_HEADER_CHARS = MAX_COLS * (MAX_CELL + 3)
DELIMITERS = (";", ",", "\t")
_CONTROL = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")
# The same characters and NUL as bytes: in UTF-8 and Windows-1252 each is its own single byte
# (UTF-8's multi-byte sequences use bytes >= 0x80 only), so content without any of these bytes
# decodes to text without any of these characters.
_CONTROL_BYTES = bytes(range(0x00, 0x09)) + b"\x0b\x0c" + bytes(range(0x0e, 0x20)) + b"\x7f"


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
        if encoding == "utf-16" or len(content.translate(None, _CONTROL_BYTES)) != len(content):
            # only text with a NUL or control byte somewhere can be binary: nearly every file has
            # none, and deleting the bytes in C took 27 us for a 50 KB village file, the pattern 280 us
            refuse_binary(text, encoding)
        return text, encoding
    raise FileError("undecodable", f"not valid text in {' or '.join(candidates)}")


def refuse_binary(text: str, encoding: str) -> None:
    """Refuse decoded text that holds a NUL, or more control characters than text has.

    Raises:
        FileError: ``undecodable``.
    """
    sample = text[:65536]  # a text file has (almost) no control characters anywhere
    controls = len(_CONTROL.findall(sample))
    if "\x00" in text or controls > max(2, len(sample) // 1000):
        raise FileError("undecodable", f"binary content (NUL or control bytes) read as {encoding}")


def sniff_delimiter(header_line: str) -> str:
    """The delimiter among ``;``, ``,`` and tab occurring most often outside quotes."""
    counts = {d: _count_unquoted(header_line, d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _count_unquoted(line: str, delimiter: str) -> int:
    # every '"' opens or closes a quoted stretch (a doubled "" closes and reopens one), so the
    # stretches outside quotes are the even pieces between quotes
    return sum(piece.count(delimiter) for piece in line.split('"')[::2])


def check_header(first_line: str, delimiter: str) -> None:
    """Refuse a first line no layout could have, before anything is built from the file: wider
    than :data:`MAX_COLS` fields, or longer than that many fields of :data:`MAX_CELL` could be.

    Raises:
        FileError: ``too_large``, naming what was found and the limit.
    """
    if len(first_line) > MAX_HEADER_CHARS:
        raise FileError("too_large", f"the first line has {len(first_line):,} characters (limit {MAX_HEADER_CHARS:,}: "
                                     f"{MAX_COLS} columns of {MAX_CELL:,})")
    fields = _count_unquoted(first_line, delimiter) + 1
    if fields > MAX_COLS:
        raise FileError("too_large", f"the header has {fields:,} columns (limit {MAX_COLS})")


def read_csv(content: bytes, layout: Layout) -> RawTable:
    if len(content) >= ARROW_MIN_BYTES and content.isascii() and \
            len(content.translate(None, _CONTROL_BYTES)) == len(content):
        # Plain ASCII without control bytes (most exports): it is its own UTF-8 text, so the file is
        # not decoded into a str only to find its first line (a tenth of reading a village file).
        found = _read_ascii(content, layout)
        if found is not None:
            return found
    text, encoding = decode_text(content)
    if not text.strip():
        raise FileError("empty", "file holds no text")
    start = len(text) - len(text.lstrip("\r\n"))
    end = text.find("\n", start)
    first_line = (text[start:] if end < 0 else text[start:end]).rstrip("\r")
    delimiter = sniff_delimiter(first_line)
    check_header(first_line, delimiter)
    warnings = [] if encoding.startswith("utf-8") else [ParseWarning("encoding_fallback", f"decoded as {encoding}")]
    arrow = None
    if len(content) >= ARROW_MIN_BYTES:
        utf8 = content[len(codecs.BOM_UTF8):] if encoding == "utf-8-sig" else content
        arrow = _read_csv_arrow(utf8 if encoding.startswith("utf-8") else text.encode("utf-8"), delimiter)
    if arrow is not None:
        headers, columns, row_numbers, too_long = arrow
        positions, names = map_headers(headers, layout, warnings)
        return RawTable(names, [columns[p] for p in positions], row_numbers, "csv", warnings, too_long)
    # The csv module refuses fields over 128 KiB and would reject the whole file; read them and
    # let _rectangular quarantine just the row (value_too_long).
    if csv.field_size_limit() < len(text) + 1:
        csv.field_size_limit(max(len(text) + 1, 1 << 20))
    rows = csv.reader(io.StringIO(text), delimiter=delimiter, quotechar='"')
    try:
        header = next(rows, None)
        if header is None:
            raise FileError("empty", "no header line")
        body, row_numbers, bad_rows = _rectangular(header, rows)
    except csv.Error as exc:  # e.g. a cell beyond the csv module's field size limit
        raise FileError("undecodable", f"not readable as delimited text ({type(exc).__name__})") from exc
    positions, names = map_headers(header, layout, warnings)
    return RawTable(names, columns_of(body, positions), row_numbers, "csv", warnings, bad_rows)


def _read_ascii(content: bytes, layout: Layout) -> RawTable | None:
    """:func:`read_csv` of plain ASCII content without control bytes, working on the bytes; None when
    pyarrow cannot read it (the text path then reads it again and decides)."""
    if not content.strip():
        raise FileError("empty", "file holds no text")
    start = len(content) - len(content.lstrip(b"\r\n"))
    end = content.find(b"\n", start)
    first_line = (content[start:] if end < 0 else content[start:end]).rstrip(b"\r").decode("ascii")
    delimiter = sniff_delimiter(first_line)
    check_header(first_line, delimiter)
    arrow = _read_csv_arrow(content, delimiter)
    if arrow is None:
        return None
    headers, columns, row_numbers, too_long = arrow
    warnings: list[ParseWarning] = []
    positions, names = map_headers(headers, layout, warnings)
    return RawTable(names, [columns[p] for p in positions], row_numbers, "csv", warnings, too_long)


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
    # is 0, read off the string offsets without a compute call per column. The columns' offsets
    # are summed, so a row's total is one difference of the sums (one addition per column, not a
    # difference, a sum and a maximum each: a village file's fixed cost, ~0.1 ms of 34 columns).
    n = table.num_rows
    ends = np.zeros(n + 1, dtype="int64")
    for c in columns:
        ends += cell_offsets(c)
    length = np.diff(ends)
    keep = length[1:] > 0
    numbers = np.arange(2, n + 1, dtype="int64")
    # A cell is no longer than its row: cells are measured only when some row is over the limit.
    too_long = []
    if length.max() > MAX_CELL:
        longest = np.zeros(n, dtype="int64")
        for c in columns:
            np.maximum(longest, cell_bytes(c), out=longest)
        oversized = longest[1:] > MAX_CELL
        too_long = [(int(numbers[i]), f"a cell of {int(longest[i + 1]):,} bytes (limit {MAX_CELL:,})",
                     "value_too_long") for i in np.flatnonzero(oversized)]
        keep &= ~oversized
    body = [c.slice(1) for c in columns]
    if not keep.all():
        mask = pa.array(keep)
        body = [pc.filter(c, mask) for c in body]
        numbers = numbers[keep]
    return headers, body, numbers, too_long


def _rectangular(header: list[str], rows: Iterable[list[str]]
                 ) -> tuple[list[list[str]], np.ndarray, list[tuple[int, str]]]:
    """Data rows cut or padded to the header's width, blank rows dropped (their numbers kept).

    A row with more non-empty cells than the header has is not guessed at: it is reported as
    ``malformed_row`` (row_number, detail) instead of failing the whole file. ``rows`` is read one
    row at a time, so a file of very wide rows never holds more than one of them.
    """
    width = len(header)
    body: list[list[str]] = []
    numbers: list[int] = []
    bad: list[tuple[int, str]] = []
    for number, row in enumerate(rows, start=2):
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
