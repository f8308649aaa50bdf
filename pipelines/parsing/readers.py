"""Bytes -> table of cells with canonical column names, one reader per file format.

The format is detected from the bytes (XLSX = zip holding ``xl/`` parts, JSON = ``[`` or ``{``
first, anything else = delimited text), never trusted from the extension; a disagreement is a
``format_mismatch`` file error. The readers themselves: :mod:`~pipelines.parsing.read_delimited`,
:mod:`~pipelines.parsing.read_xlsx`, :mod:`~pipelines.parsing.read_json`; what they return and
how headers are mapped: :mod:`~pipelines.parsing.cells`.
"""

from __future__ import annotations

import codecs
import io
import zipfile

from pipelines.parsing.cells import FileError, RawTable
from pipelines.parsing.layouts import Layout
from pipelines.parsing.read_delimited import read_csv
from pipelines.parsing.read_json import read_json
from pipelines.parsing.read_xlsx import read_xlsx

_EXPECTED = {"csv": "text", "txt": "text", "tsv": "text", "xlsx": "xlsx", "json": "json"}


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
    reader = {"xlsx": read_xlsx, "json": read_json, "text": read_csv}[detected]
    return reader(content, layout)
