"""The first sheet of a workbook written the plain way, read natively into the grid calamine gives.

python-calamine parses a village's e-PPGBM sheet (~700 rows x 34 columns) in about 20 ms, two
thirds of the workbook's whole cost and the largest per-row cost of ingestion (a CSV of the same
rows takes ~3 ms). Most workbooks are written the plain way: one sheet, shared strings of plain
text, every cell with its ``r``, numbers in number styles. For those, ``xlsx_grid.c``
(:mod:`pipelines.parsing.native`) builds the very grid ``to_python(skip_empty_area=False)``
returns (same values, same types) from the inflated XML. Anything else (several sheets, rich
text, a number in a date style, an error cell, parts in unusual places, ...) returns None and
calamine reads the workbook as before, so the fast path can only be faster, never different:
``tests/parsing/test_xlsx_native.py`` compares the two on every workbook of the tests, the demo and
crafted edge cases.
"""

from __future__ import annotations

import io
import re
import zipfile

from pipelines.parsing import native
from pipelines.parsing.xlsx_limits import first_sheet

_SHEET_TAG = re.compile(rb"<([A-Za-z_][\w.-]*:)?sheet\s([^>]*)>")
_NAME = re.compile(rb"""\bname\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_NUMFMT = re.compile(rb"<numFmt\s([^>]*)>")
_NUMFMT_ID = re.compile(rb"""\bnumFmtId\s*=\s*["']([^"']*)["']""")
_FORMAT_CODE = re.compile(rb"""\bformatCode\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_CELL_XFS = re.compile(rb"<cellXfs\b[^>]*?(/?)>(.*?)(?:</cellXfs>|$)", re.S)
_XF = re.compile(rb"<xf(?=[\s/>])([^>]*)>")
# What a cell style makes of a number, for xlsx_grid.c: shown as a number, read as a date or
# datetime by calamine, or anything else (a time, a duration, a format this module does not tell
# apart for sure): a number in such a style sends the workbook to calamine.
OTHER, NUMBER, DATE = 0, 1, 2
# Built-in number formats that show a number as a number (Excel's ids 0-13, 37-44, 48, 49), and the
# ones calamine reads as dates (14-22, 45, 47; 46 is a duration). Other built-in ids are
# locale-dependent.
_NUMBER_BUILTIN = {str(i).encode() for i in (*range(0, 14), *range(37, 45), 48, 49)}
_DATE_BUILTIN = {str(i).encode() for i in (*range(14, 23), 45, 47)}
# A custom format with none of these letters cannot be a date, time or duration in calamine's
# reading (it looks for d, m, h, y, s and AM/PM outside quotes and brackets).
_DATE_LETTERS = re.compile(rb"[dmhysapDMHYSAP]")
# A custom format calamine reads as a date for sure: an optional locale tag ([$-421], Indonesian),
# then a day, month or year letter first, and only date and time letters and separators after it.
_DATE_FORMAT = re.compile(rb"(?:\[\$-[0-9A-Fa-f]{1,8}\])?[dDmMyY][dDmMyYhHsS/\-.,: ]*")
_DATE1904 = re.compile(rb"\bdate1904\s*=")


def native_grid(content: bytes, sheet_xml: bytes | None = None) -> tuple[list[str], list[list[object]]] | None:
    """``(sheet names, grid of the first sheet)`` as calamine reads them, or None when the workbook
    is not written the plain way (or the native reader is not built): then calamine must read it.

    Call it on a workbook :func:`~pipelines.parsing.xlsx_limits.check_workbook` accepted;
    ``sheet_xml``: the first sheet's XML that check returned, so it is not inflated again.
    """
    grid_reader = native.grid_module()
    if grid_reader is None:
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            names = {i.filename for i in zf.infolist()}
            lowered = [n.lower() for n in names]
            if any(n.endswith("sharedstrings.xml") for n in lowered) and "xl/sharedStrings.xml" not in names:
                return None
            if any(n.endswith("styles.xml") for n in lowered) and "xl/styles.xml" not in names:
                return None
            workbook = zf.read("xl/workbook.xml")
            sheet_names = _sheet_names(workbook)
            if sheet_names is None or _DATE1904.search(workbook):
                return None  # several sheets, or the 1904 date system (dates left to calamine)
            sheets = first_sheet(zf)
            if len(sheets) != 1 or not sheets[0].filename.startswith("xl/worksheets/"):
                return None
            plain = _plain_styles(zf.read("xl/styles.xml")) if "xl/styles.xml" in names else b""
            if plain is None:
                return None
            strings: list[str] = []
            if "xl/sharedStrings.xml" in names:
                strings = grid_reader.shared_strings(zf.read("xl/sharedStrings.xml"))
                if strings is None:
                    return None
            xml = sheet_xml if sheet_xml is not None else zf.read(sheets[0])
            grid = grid_reader.sheet_grid(xml, strings, plain)
    except (KeyError, zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError):
        return None  # calamine decides, and names the error
    return None if grid is None else (sheet_names, grid)


def _sheet_names(workbook: bytes) -> list[str] | None:
    """The one sheet's name; None for several sheets, a prefixed tag or a name with an entity."""
    tags = _SHEET_TAG.findall(workbook)
    if len(tags) != 1 or tags[0][0]:
        return None
    name = _NAME.search(tags[0][1])
    if name is None:
        return None
    raw = name.group(1) if name.group(1) is not None else name.group(2)
    if b"&" in raw or b"\r" in raw or b"\n" in raw or b"\t" in raw:
        return None
    try:
        return [raw.decode("utf-8")]
    except UnicodeDecodeError:
        return None


def _plain_styles(styles: bytes) -> bytes | None:
    """Per cell style (``cellXfs`` in order), what it makes of a number (:data:`NUMBER`, :data:`DATE`
    or :data:`OTHER`); None when the style sheet is not written the plain way (a prefixed or
    missing ``cellXfs``)."""
    if b"<cellXfs" not in styles or re.search(rb"<[A-Za-z_][\w.-]*:(cellXfs|xf|numFmt)\b", styles):
        return None
    custom: dict[bytes, int] = {}
    for attrs in _NUMFMT.findall(styles):
        fmt_id, code = _NUMFMT_ID.search(attrs), _FORMAT_CODE.search(attrs)
        if fmt_id is None or code is None:
            continue
        text = code.group(1) if code.group(1) is not None else code.group(2)
        custom[fmt_id.group(1)] = (NUMBER if _DATE_LETTERS.search(text) is None
                                   else DATE if _DATE_FORMAT.fullmatch(text) else OTHER)
    block = _CELL_XFS.search(styles)
    if block is None:
        return None
    if block.group(1):  # <cellXfs/>
        return b""
    plain = bytearray()
    for attrs in _XF.findall(block.group(2)):
        fmt_id = _NUMFMT_ID.search(attrs)
        code = None if fmt_id is None else fmt_id.group(1)
        if code is None:
            plain.append(NUMBER)
        elif code in custom:
            plain.append(custom[code])
        else:
            plain.append(NUMBER if code in _NUMBER_BUILTIN else DATE if code in _DATE_BUILTIN else OTHER)
    return bytes(plain)
