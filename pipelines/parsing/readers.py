"""Bytes -> table of cells with canonical column names, one reader per file format.

The format is detected from the bytes (XLSX = zip holding ``xl/`` parts, JSON = ``[`` or ``{``
first, anything else = delimited text), never trusted from the extension; a disagreement is a
``format_mismatch`` file error. The readers themselves: :mod:`~pipelines.parsing.read_delimited`,
:mod:`~pipelines.parsing.read_xlsx`, :mod:`~pipelines.parsing.read_json`; what they return and
how headers are mapped: :mod:`~pipelines.parsing.cells`. Workbooks are read in child processes
(:mod:`~pipelines.parsing.isolated`) after cheap checks (:mod:`~pipelines.parsing.xlsx_limits`).
"""

from __future__ import annotations

import codecs
import functools
import io
import zipfile
from collections.abc import Sequence

from pipelines.parsing import native
from pipelines.parsing.cells import FileError, RawTable
from pipelines.parsing.isolated import read_isolated
from pipelines.parsing.layouts import Layout
from pipelines.parsing.read_delimited import read_csv
from pipelines.parsing.read_json import read_json
from pipelines.parsing.read_xlsx import read_xlsx
from pipelines.parsing.xlsx_limits import check_workbook

_EXPECTED = {"csv": "text", "txt": "text", "tsv": "text", "xlsx": "xlsx", "json": "json"}


def detect_format(content: bytes) -> str:
    """``xlsx``, ``zip`` (a zip that is not a workbook), ``xls`` (legacy OLE2), ``json`` or ``text``."""
    if content[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as zf:
                names = zf.namelist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, ValueError, EOFError, OSError):
            return "zip"  # a zip its own directory cannot describe (a cut or crafted file)
        return "xlsx" if any(n.startswith("xl/") for n in names) else "zip"
    if content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return "xls"
    head = content[:64].lstrip(codecs.BOM_UTF8).lstrip()
    if head[:1] in (b"[", b"{"):
        return "json"
    return "text"


def read_tables(files: Sequence[tuple[str, bytes]], layout: Layout) -> list[RawTable | FileError]:
    """Read submission files into canonical columns: per file its table, or the error refusing it.

    Workbooks are read together in short-lived child processes
    (:func:`~pipelines.parsing.isolated.read_isolated`), each checked there first
    (:func:`~pipelines.parsing.xlsx_limits.check_workbook`) and read only if it passes, from the
    sheet XML the check inflated (:func:`read_checked_xlsx`): a workbook that makes the reader abort
    or run out of memory is refused (``parser_crashed``, ``too_large``) and the others are read.
    Text and JSON are read here.

    Args:
        files: ``(file_name, content)`` pairs; the name is used only for its extension (checked
            against the detected format).
        layout: the stream's layout (headers, aliases, required columns).

    Returns:
        Per file, its :class:`RawTable` or a :class:`FileError`: ``format_mismatch``,
        ``not_xlsx``, ``undecodable``, ``bad_json``, ``empty``, ``too_large``,
        ``missing_columns``, ``parser_crashed`` or ``internal_error``.
    """
    out: list[RawTable | FileError | None] = [None] * len(files)
    workbooks = []
    for i, (file_name, content) in enumerate(files):
        try:
            detected = _checked_format(content, file_name)
            if detected == "xlsx":
                workbooks.append(i)
            else:
                out[i] = (read_json if detected == "json" else read_csv)(content, layout)
        except FileError as exc:
            out[i] = exc
    if workbooks:
        import python_calamine  # noqa: F401 - imported once here, not in every child

        native.grid_module()  # likewise the native workbook reader (xlsx_native), loaded once here

        read = functools.partial(read_checked_xlsx, layout=layout)
        for i, result in zip(workbooks, read_isolated(read, [files[i][1] for i in workbooks]), strict=True):
            out[i] = result
    return out


def read_checked_xlsx(content: bytes, layout: Layout) -> RawTable:
    """:func:`~pipelines.parsing.xlsx_limits.check_workbook`, then
    :func:`~pipelines.parsing.read_xlsx.read_xlsx` from the sheet XML the check inflated: the sheet
    is inflated once (it was inflated twice when the check ran in the worker, a third of the check's
    cost). Runs in the reading child: the check itself no longer costs the worker.

    Raises:
        FileError: the check's refusal (``not_xlsx``, ``too_large``) or the reader's.
    """
    return read_xlsx(content, layout, check_workbook(content))


def read_table(content: bytes, file_name: str, layout: Layout) -> RawTable:
    """Read one submission file into canonical columns (see :func:`read_tables`).

    Raises:
        FileError: the reason the file is refused.
    """
    result = read_tables([(file_name, content)], layout)[0]
    if isinstance(result, FileError):
        raise result
    return result


def _checked_format(content: bytes, file_name: str) -> str:
    detected = detect_format(content)
    ext = file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
    expected = _EXPECTED.get(ext)
    if detected in ("zip", "xls"):
        raise FileError("not_xlsx", f"{detected} content is not an .xlsx workbook")
    if expected is not None and expected != detected:
        raise FileError("format_mismatch", f".{ext} file holds {detected} content")
    return detected
