"""A file's cells under canonical column names: what every reader returns (:class:`RawTable`),
the whole-file error (:class:`FileError`), what the reader or parser assumed about a file
(:class:`ParseWarning`), the size limits, and header mapping through the layout's alias table
after :func:`~pipelines.parsing.layouts.normalise_header` (never by position).

Cells are kept as one array per column: the parser concatenates the columns of many files and
types them once, so a file costs no pandas work of its own.
"""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from pipelines.parsing.layouts import Layout, header_aliases, normalise_header

MAX_ROWS = 1_048_576  # Excel's own sheet limit
MAX_COLS = 256
# Longest cell kept (bytes of UTF-8 for CSV, characters for XLSX). No field of any layout comes
# near it; a row with a longer cell is quarantined as ``value_too_long`` and its cell never
# travels further (a 10 MB cell would otherwise ride along into payloads and logs).
MAX_CELL = 4096
HEADER_SCAN_ROWS = 10  # XLSX exports sometimes carry a title row or two above the header
_DIGIT_RUN = re.compile(r"\d{6,}")


# Every code a parser warning can carry (raw.submission_warnings.code; docs/quality.md).
WARNING_CODES = (
    "encoding_fallback",  # not UTF-8: decoded as Windows-1252 (or UTF-16 with a BOM)
    "sheet_ignored",  # a workbook with several sheets: only the first was read
    "column_dropped",  # headers the layout does not know, dropped
    "column_duplicate",  # two headers for one column: the first kept
    "date_order_guessed",  # slash dates read as d/m/y (or m/d/y although some do not fit)
    "unit_rescaled",  # birth weights in grams or birth lengths in millimetres, rescaled
    "nik_untrusted",  # NIKs that arrived as numbers: never used as an identity
    "nik_fallback",  # rows without a usable NIK: the id comes from name, birth date and village
)


@dataclass(frozen=True)
class ParseWarning:
    """Something the reader or parser assumed about one file, kept with its submission.

    ``code`` is one of :data:`WARNING_CODES`; ``detail`` is for people and never quotes a
    personal value; ``n_rows`` counts the rows concerned (None for a file-wide fact).
    """

    code: str
    detail: str
    n_rows: int | None = None

    def __post_init__(self) -> None:
        if self.code not in WARNING_CODES:
            raise ValueError(f"unknown warning code {self.code!r}")

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


class FileError(Exception):
    """The whole file is unusable; ``code`` is the reason code (``undecodable``, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def __reduce__(self):  # it crosses from the child process that read the file
        return FileError, (self.code, self.message)


def withheld(exc: BaseException) -> str:
    """An unexpected exception as a detail that is safe to keep: its type and where it was raised,
    never its message (it may quote personal cells)."""
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    at = f" at {Path(where.filename).name}:{where.lineno}" if where else ""
    return f"{type(exc).__name__}{at} (message withheld: it may quote personal data)"


@dataclass
class RawTable:
    """Cells of one file under canonical column names (unknown columns dropped)."""

    names: list[str]  # canonical column names, in file order
    cells: list[np.ndarray | pa.Array]  # one array per name: CSV text as arrow strings, else objects
    row_numbers: np.ndarray  # spreadsheet row per frame row (header = 1); JSON: record index
    file_format: str
    warnings: list[ParseWarning] = field(default_factory=list)
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


def columns_of(body: list[list[object]], positions: list[int]) -> list[np.ndarray]:
    """Object array per chosen position of rectangular row lists."""
    if not body:
        return [np.empty(0, dtype=object) for _ in positions]
    grid = np.empty((len(body), len(body[0])), dtype=object)
    grid[:] = body
    return [grid[:, p].copy() for p in positions]


def cell_offsets(column: pa.Array) -> np.ndarray:
    """The ``len + 1`` offsets of a ``large_string`` Arrow column's cells (a view, not a copy):
    cell ``i`` holds ``offsets[i + 1] - offsets[i]`` bytes."""
    return np.frombuffer(column.buffers()[1], dtype="int64")[column.offset:column.offset + len(column) + 1]


def cell_bytes(column: pa.Array) -> np.ndarray:
    """Each cell's length in bytes of a ``large_string`` Arrow column (0 for a null), read off its
    offsets: no compute call."""
    return np.diff(cell_offsets(column))


def text_columns_as_arrow(columns: list[np.ndarray]) -> list[np.ndarray | pa.Array]:
    """Columns of native cells (XLSX, JSON) whose cells are all text or empty, as Arrow strings.

    Such a column then parses on the same vectorised string path as a CSV column (which gives the
    same values: every parser reads an ``object`` column's text cells as that text), and it
    crosses a process boundary as two buffers instead of one Python object per cell. Columns
    with a number, date or boolean cell stay ``object``, so those cells keep their type.
    """
    out: list[np.ndarray | pa.Array] = []
    for column in columns:
        if column.dtype == object and len(column):
            try:
                out.append(pa.array(column, type=pa.large_string(), from_pandas=True))
                continue
            except (pa.ArrowInvalid, pa.ArrowTypeError):  # a non-text cell: keep native values
                pass
        out.append(column)
    return out


def safe_header(header: object) -> str:
    # A file without a header row turns its first data row into "headers"; mask long digit
    # runs (NIKs, phone numbers) so a warning never carries them.
    return _DIGIT_RUN.sub("<digits>", str(header))[:60]


_ALIASES: dict[str, tuple[Layout, dict[str, str]]] = {}


def layout_aliases(layout: Layout) -> dict[str, str]:
    """The layout's alias table, built once per layout."""
    cached = _ALIASES.get(layout.stream)
    if cached is None or cached[0] is not layout:
        cached = _ALIASES[layout.stream] = (layout, header_aliases(layout))
    return cached[1]


# Header lines already mapped, per layout: most files of a stream come from one export tool and
# share their header line, which is then normalised and looked up once, not once per file (a
# national month's 164k village files; ~0.13 ms a file of 34 columns). Text headers only (CSV
# always): ``1 == 1.0 == True`` would make other cell types share an entry their text does not.
_HEADER_MAPS: dict[tuple, tuple] = {}
_MAX_HEADER_MAPS = 1024


def map_headers(
    headers: list[object], layout: Layout, warnings: list[ParseWarning]
) -> tuple[list[int], list[str]]:
    """Positions and canonical names of the recognised headers; warns about the rest.

    Raises:
        FileError: ``missing_columns`` when a required column has no header.
    """
    if not all(type(h) is str for h in headers):
        return _map_headers(headers, layout, warnings)
    key = (layout.stream, *headers)
    found = _HEADER_MAPS.get(key)
    if found is None or found[0] is not layout:
        mapped: list[ParseWarning] = []
        try:
            found = (layout, _map_headers(headers, layout, mapped), tuple(mapped), None)
        except FileError as exc:
            found = (layout, None, (), (exc.code, exc.message))
        if len(_HEADER_MAPS) >= _MAX_HEADER_MAPS:
            _HEADER_MAPS.clear()
        _HEADER_MAPS[key] = found
    _, mapping, mapped_warnings, refusal = found
    if refusal is not None:
        raise FileError(*refusal)
    warnings.extend(mapped_warnings)
    positions, names = mapping
    return list(positions), list(names)


def _map_headers(
    headers: list[object], layout: Layout, warnings: list[ParseWarning]
) -> tuple[list[int], list[str]]:
    aliases = layout_aliases(layout)
    positions, names, unknown = [], [], []
    for pos, header in enumerate(headers):
        if header is None or str(header).strip() == "":
            continue
        canonical = aliases.get(normalise_header(header))
        if canonical is None:
            unknown.append(safe_header(header))
        elif canonical in names:
            warnings.append(ParseWarning(
                "column_duplicate", f"duplicate column {safe_header(header)!r} for {canonical}: first one kept"))
        else:
            positions.append(pos)
            names.append(canonical)
    missing = [h for c, h in layout.columns if c in layout.required and c not in names]
    if missing:
        hint = "" if names else " (no known header found: is the first row a header?)"
        raise FileError("missing_columns", ", ".join(missing) + hint)
    if unknown:
        warnings.append(ParseWarning("column_dropped", f"unknown columns dropped: {', '.join(unknown)}"))
    return positions, names
