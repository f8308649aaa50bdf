"""Cheap checks on a workbook's zip and XML before any reader builds it.

python-calamine sizes its buffers from what a workbook *says*: a sheet with one cell at A1 and one
at XFD1048576 makes it allocate the whole 17-billion-cell grid (512 GB), a ``sharedStrings.xml``
declaring ``uniqueCount="4000000000"`` reserves 96 GB up front. Either aborts the process
(Rust's allocation failure is SIGABRT, not an exception). So, before the file is read:

* the zip's declared sizes (a zip bomb): over :data:`MAX_XLSX_INFLATED_BYTES`, or over
  :data:`MAX_XLSX_RATIO` times the file plus 16 MB;
* the first sheet's cells that hold something, scanned as a stream of XML tags (never built): no
  cell beyond column :data:`~pipelines.parsing.cells.MAX_COLS` or row
  :data:`~pipelines.parsing.cells.MAX_ROWS`, and the grid up to the last cell (rows x columns,
  what the reader allocates) within :func:`grid_cap`;
* the declared ``<dimension ref>``: within Excel's own sheet. A larger-than-used dimension is not
  refused: Excel counts formatted empty cells in it (the "Ctrl+End goes far" sheet), which the
  reader skips, so it costs nothing;
* ``sharedStrings.xml``'s declared ``count`` / ``uniqueCount``: within :func:`strings_cap`.

A check that fails raises ``FileError("too_large", ...)`` naming what was found and the limit.
What slips past is caught by reading in a child process (:mod:`pipelines.parsing.isolated`).
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator

import numpy as np

from pipelines.parsing import native
from pipelines.parsing.cells import MAX_COLS, MAX_ROWS, FileError

# A workbook whose XML inflates past this is refused before it is parsed (a zip bomb, or a sheet
# far beyond any real e-PPGBM export: the largest Banten village file inflates to about 3 MB).
MAX_XLSX_INFLATED_BYTES = 256 * 1024 * 1024
MAX_XLSX_RATIO = 200
# No cell holding a value takes under 16 bytes of XML (<c r="A1"><v>1</v></c> is 22), so no
# workbook within the inflation limit fills a larger grid.
MAX_GRID_CELLS = MAX_XLSX_INFLATED_BYTES // 16
# Grid cells allowed per byte of sheet XML: a dense export has about one cell per 25 bytes, so
# this leaves a sheet room to be a thousand times sparser than that, and no more.
GRID_CELLS_PER_BYTE = 64
EXCEL_COLS = 16_384  # XFD
# The first sheet's XML the check keeps for the reader (check_workbook's return): a village's
# e-PPGBM sheet inflates to about 3 MB; a larger sheet is inflated again by the reader instead.
KEEP_SHEET_BYTES = 32 * 1024 * 1024
MAX_TAG_BYTES = 1 << 20  # no tag of a real sheet comes near it
_CHUNK = 4 << 20
_P = rb"<(?:[A-Za-z_][\w.-]*:)?"  # an element, with or without a namespace prefix
_CELL_ANY = re.compile(_P + rb"c[\s/>]")
_CELL_REF = re.compile(_P + rb"c\s[^>]*?\br\s*=\s*[\"']\$?([A-Za-z]{1,12})\$?0*(\d{1,12})[\"'][^>]*?(/?)>(</)?")
_TAG = re.compile(_P + rb"(row|c)(?=[\s/>])([^>]*?)(/?)>(</)?")
_R_ATTR = re.compile(rb"\br\s*=\s*[\"']\$?([A-Za-z]{0,12})\$?0*(\d{0,12})[\"']")
_REF = re.compile(rb"\$?([A-Za-z]{1,12})\$?0*(\d{1,12})")
_DIMENSION = re.compile(_P + rb"dimension\s[^>]*?\bref\s*=\s*[\"']([^\"']*)[\"']")
_SST = re.compile(_P + rb"sst\b([^>]*)>")
_COUNT = re.compile(rb"\b(count|uniqueCount)\s*=\s*[\"']\s*(\d+)")
_SHEET = re.compile(_P + rb"sheet\s([^>]*)>")
_REL_ID = re.compile(rb"\s[\w.-]+:id\s*=\s*[\"']([^\"']*)[\"']")
_RELATIONSHIP = re.compile(_P + rb"Relationship\s([^>]*)>")
_ATTR = re.compile(rb"\b(Id|Target)\s*=\s*[\"']([^\"']*)[\"']")


def grid_cap(sheet_bytes: int) -> int:
    """Most grid cells (rows x columns up to the last cell) allowed for a sheet of this size."""
    return min(MAX_GRID_CELLS, max(MAX_ROWS, GRID_CELLS_PER_BYTE * sheet_bytes))


def strings_cap(inflated_bytes: int) -> int:
    """Most shared strings a workbook may declare: every one is an ``<si>`` and every use a cell,
    each at least 8 bytes of XML."""
    return min(MAX_GRID_CELLS, max(65_536, inflated_bytes // 8))


def column_number(letters: bytes) -> int:
    """``b"A"`` -> 1, ``b"XFD"`` -> 16384."""
    n = 0
    for ch in letters.upper():
        n = n * 26 + ch - 64
    return n


def check_workbook(content: bytes) -> bytes | None:
    """Refuse a workbook the reader could not build in bounded memory.

    Returns:
        The first sheet's XML as the check inflated it, when the workbook has one first sheet (the
        native reader then reads it without inflating it again, :func:`~pipelines.parsing.xlsx_native.native_grid`);
        None otherwise.

    Raises:
        FileError: ``not_xlsx`` (not a readable zip), ``too_large`` (naming what and the limit).
    """
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            infos = zf.infolist()
            inflated = sum(i.file_size for i in infos)
            _check_inflation(inflated, len(content))
            for info in infos:
                if info.filename.rsplit("/", 1)[-1].lower() == "sharedstrings.xml":
                    _check_shared_strings(zf, info, inflated)
            sheets = first_sheet(zf)
            xml = None
            for info in sheets:
                xml = _check_sheet(zf, info, keep=len(sheets) == 1)
            return xml
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, NotImplementedError, RuntimeError, EOFError,
            OSError) as exc:
        # the zip's own checks (CRC, truncation, corrupt deflate, unknown compression, encryption)
        # fail here before the reader
        name = "zlib.error" if isinstance(exc, zlib.error) else type(exc).__name__
        raise FileError("not_xlsx", f"workbook cannot be opened ({name})") from exc


def _check_inflation(inflated: int, size: int) -> None:
    if inflated > MAX_XLSX_INFLATED_BYTES or inflated > MAX_XLSX_RATIO * max(size, 1) + 16 * 1024 * 1024:
        raise FileError("too_large", f"workbook inflates to {inflated:,} bytes from {size:,} "
                                     "(zip bomb or oversized sheet)")


def _check_shared_strings(zf: zipfile.ZipFile, info: zipfile.ZipInfo, inflated: int) -> None:
    with zf.open(info) as part:
        head = part.read(65_536)
    tag = _SST.search(head)
    if tag is None:
        return
    cap = strings_cap(inflated)
    for name, value in _COUNT.findall(tag.group(1)):
        if int(value) > cap:
            raise FileError("too_large", f"sharedStrings declares {name.decode()}={int(value):,} strings; a workbook "
                                         f"of {inflated:,} inflated bytes holds at most {cap:,}")


def first_sheet(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The part the reader reads as sheet 1 (the first ``<sheet>`` of workbook.xml through its
    relationship); every worksheet part when that cannot be told."""
    names = {i.filename: i for i in zf.infolist()}
    worksheets = [i for n, i in names.items() if n.lower().startswith("xl/worksheets/") and n.lower().endswith(".xml")]
    try:
        with zf.open("xl/workbook.xml") as wb, zf.open("xl/_rels/workbook.xml.rels") as rels:
            sheet, relations = _SHEET.search(wb.read(MAX_TAG_BYTES)), rels.read(MAX_TAG_BYTES)
    except KeyError:
        return worksheets
    rid = _REL_ID.search(b" " + sheet.group(1)) if sheet else None
    for rel in _RELATIONSHIP.finditer(relations):
        attrs = dict(_ATTR.findall(rel.group(1)))
        if rid is not None and attrs.get(b"Id") == rid.group(1) and b"Target" in attrs:
            target = attrs[b"Target"].decode("utf-8", "replace")
            path = target.lstrip("/") if target.startswith("/") else "xl/" + target
            return [names[path]] if path in names else worksheets
    return worksheets


def _check_sheet(zf: zipfile.ZipFile, info: zipfile.ZipInfo, keep: bool = False) -> bytes | None:
    """Refuse the sheet beyond the limits. With ``keep``, return its XML as scanned when it is at
    most :data:`KEEP_SHEET_BYTES` (beyond, None: the check's memory stays bounded by its chunks, and
    the reader inflates that sheet itself)."""
    rows = cols = 0
    implicit = False
    kept: list[bytes] | None = [] if keep else None
    held = 0
    for i, xml in enumerate(_whole_tags(zf, info)):
        if kept is not None:
            held += len(xml)
            if held <= KEEP_SHEET_BYTES:
                kept.append(xml)
            else:
                kept = None
        if i == 0:
            _check_dimension(xml)
        extent = _extent_canonical(xml)
        if extent is None or _beyond(*extent, info.file_size):  # the exact reading decides
            refs = _CELL_REF.findall(xml)
            implicit = implicit or len(refs) != len(_CELL_ANY.findall(xml))
            filled = [(c, r) for c, r, closed, empty in refs if not closed and not empty]
            extent = (max((int(r) for r in {r for _, r in filled}), default=0),
                      max((column_number(c) for c in {c for c, _ in filled}), default=0))
        rows, cols = max(rows, extent[0]), max(cols, extent[1])
    if implicit:  # some cell or row without an r: walk the sheet again as the reader places them
        walked = _walk(_whole_tags(zf, info))
        rows, cols = max(rows, walked[0]), max(cols, walked[1])
    _check_extent(rows, cols, info.file_size)
    return None if kept is None else b"".join(kept)


def _extent_canonical(xml: bytes) -> tuple[int, int] | None:
    """Last row and column of the cells when every cell is written as Excel, LibreOffice and
    openpyxl write it (``<c r="AB12"``, no prefix, at most 3 letters and 7 digits), in one native
    pass (:mod:`pipelines.parsing.native`: about 1 ms for a village sheet, against 5 ms with numpy,
    :func:`_extent_canonical_numpy`, the path without the library); None when some cell is written
    otherwise. Empty cells count too (telling them apart costs more): over a limit, the exact path
    decides."""
    found = native.sheet_extent_canonical(xml)
    return _extent_canonical_numpy(xml) if found is native.UNAVAILABLE else found


def _extent_canonical_numpy(xml: bytes) -> tuple[int, int] | None:
    """:func:`_extent_canonical` with numpy."""
    a = np.frombuffer(xml + bytes(16), np.uint8)
    lt = np.flatnonzero(a == ord("<"))
    at = lt[a[lt + 1] == ord("c")]
    at = at[_cell_end(a[at + 2])]
    colon = np.flatnonzero(a == ord(":"))
    colon = colon[a[colon + 1] == ord("c")]
    if not (a[at[:, None] + np.arange(2, 6)] == np.frombuffer(b' r="', np.uint8)).all() or _cell_end(a[colon + 2]).any():
        return None  # a cell without r, or with a prefix (<x:c>): not written as this path expects
    if not len(at):
        return 0, 0
    ref = a[at[:, None] + np.arange(6, 17)]  # up to 3 letters, 7 digits and the closing quote
    letters = np.argmin((ref >= ord("A")) & (ref <= ord("Z")), axis=1)
    if letters.min() == 0 or letters.max() > 3:
        return None
    tail = np.take_along_axis(ref, letters[:, None] + np.arange(8), axis=1)
    digits = np.argmin((tail >= ord("0")) & (tail <= ord("9")), axis=1)
    if digits.min() == 0 or digits.max() > 7 or (tail[np.arange(len(at)), digits] != ord('"')).any():
        return None
    return _largest(tail, digits, 10, ord("0")), _largest(ref, letters, 26, ord("A") - 1)


def _cell_end(after: np.ndarray) -> np.ndarray:
    """Whether each byte may follow an element's name (``<c`` of ``<c r=..>``, not of ``<cols>``)."""
    return (after == ord(" ")) | (after == ord(">")) | (after == ord("/")) | ((after >= 9) & (after <= 13))


def _largest(refs: np.ndarray, lengths: np.ndarray, base: int, zero: int) -> int:
    """The largest of the leading runs (row digits, base 10; or column letters, base 26 from A = 1)
    as numbers (a row written with leading zeros counts as its value)."""
    values = np.zeros(len(refs), dtype=np.int64)
    for k in range(int(lengths.max())):
        values = np.where(k < lengths, values * base + (refs[:, k].astype(np.int64) - zero), values)
    return int(values.max())


def _whole_tags(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """The part's XML in chunks that each end before a tag starts (never cut inside one)."""
    carry = b""
    with zf.open(info) as part:
        while chunk := part.read(_CHUNK):
            buf = carry + chunk
            cut = buf.rfind(b"<")
            cut = len(buf) if cut < 0 else cut
            yield buf[:cut]
            carry = buf[cut:]
            if len(carry) > MAX_TAG_BYTES:
                raise FileError("too_large", f"an XML tag over {MAX_TAG_BYTES:,} bytes in {info.filename}")
    yield carry


def _check_dimension(head: bytes) -> None:
    found = _DIMENSION.search(head)
    for ref in found.group(1).split(b":") if found else ():
        cell = _REF.fullmatch(ref.strip())
        if cell and (column_number(cell.group(1)) > EXCEL_COLS or int(cell.group(2)) > MAX_ROWS):
            raise FileError("too_large", f"the sheet declares cells up to {ref.decode('ascii', 'replace')[:24]}, "
                                         f"beyond Excel's last cell XFD{MAX_ROWS}")


def _walk(chunks: Iterable[bytes]) -> tuple[int, int]:
    """Last row and column holding a value, placing a cell or row without an ``r`` as the reader
    does: after the previous cell of its row, or after the previous row."""
    last_row = last_col = row = col = 0
    for xml in chunks:
        for tag, attrs, closed, empty in _TAG.findall(xml):
            ref = _R_ATTR.search(attrs)
            if tag == b"row":
                row, col = (int(ref.group(2)) if ref and ref.group(2) else row + 1), 0
                continue
            if ref and ref.group(1):
                col, row = column_number(ref.group(1)), (int(ref.group(2)) if ref.group(2) else row)
            else:
                col += 1
            if not closed and not empty:
                last_row, last_col = max(last_row, row), max(last_col, col)
    return last_row, last_col


def _beyond(rows: int, cols: int, sheet_bytes: int) -> bool:
    return cols > MAX_COLS or rows > MAX_ROWS or rows * cols > grid_cap(sheet_bytes)


def _check_extent(rows: int, cols: int, sheet_bytes: int) -> None:
    if cols > MAX_COLS:
        raise FileError("too_large", f"a cell in column {cols:,} (at most {MAX_COLS} columns are read)")
    if rows > MAX_ROWS:
        raise FileError("too_large", f"a cell in row {rows:,} (limit {MAX_ROWS:,})")
    cap = grid_cap(sheet_bytes)
    if rows * cols > cap:
        raise FileError("too_large", f"cells span {rows:,} rows x {cols:,} columns = {rows * cols:,} cells in "
                                     f"{sheet_bytes:,} bytes of sheet XML (limit {cap:,})")
