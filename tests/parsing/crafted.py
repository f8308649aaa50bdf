"""Hostile files built in the test that uses them (never committed): workbooks whose declared
sizes make the XLSX reader abort, a CSV as wide as it is long, JSON nested or numbered past what
Python reads."""

from __future__ import annotations

import io
import zipfile

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def workbook(sheet_data: str, shared_strings: str | None = None, dimension: str | None = None,
             sheet_head: str = "", styles: str | None = None, workbook_pr: str = "",
             sheet_xml: str | None = None) -> bytes:
    """A minimal valid .xlsx whose first sheet's ``<sheetData>`` is ``sheet_data`` (``styles``: the
    whole ``xl/styles.xml``; ``workbook_pr``: elements before ``<sheets>``, e.g. ``<workbookPr/>``;
    ``sheet_xml``: the whole sheet part instead, as given)."""
    sst_type = f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_CT}.sharedStrings+xml"/>'
    sst_rel = f'<Relationship Id="rId2" Type="{_REL}/sharedStrings" Target="sharedStrings.xml"/>'
    styles_type = f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.styles+xml"/>'
    styles_rel = f'<Relationship Id="rId3" Type="{_REL}/styles" Target="styles.xml"/>'
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_CT}.worksheet+xml"/>'
            f'{sst_type if shared_strings else ""}{styles_type if styles else ""}</Types>'),
        "_rels/.rels": (f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG}"><Relationship '
                        f'Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
        "xl/workbook.xml": (f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{_MAIN}" xmlns:r="{_REL}">'
                            f'{workbook_pr}<sheets><sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>'),
        "xl/_rels/workbook.xml.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG}"><Relationship Id="rId1" '
            f'Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>{sst_rel if shared_strings else ""}'
            f'{styles_rel if styles else ""}'
            '</Relationships>'),
        "xl/worksheets/sheet1.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_MAIN}">{sheet_head}'
            f'{f"<dimension ref={chr(34)}{dimension}{chr(34)}/>" if dimension else ""}'
            f'<sheetData>{sheet_data}</sheetData></worksheet>'),
    }
    if sheet_xml is not None:
        parts["xl/worksheets/sheet1.xml"] = sheet_xml
    if shared_strings:
        parts["xl/sharedStrings.xml"] = shared_strings
    if styles:
        parts["xl/styles.xml"] = styles
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in parts.items():
            zf.writestr(name, text)
    return buf.getvalue()


def text_cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def far_corner_xlsx() -> bytes:
    """Cells at A1 and XFD1048576 only: the reader allocates the whole sheet (512 GB)."""
    return workbook(f'<row r="1">{text_cell("A1", "x")}</row><row r="1048576">{text_cell("XFD1048576", "y")}</row>')


def shared_strings(declared: int, pad: int = 0) -> str:
    """A sharedStrings part with one string that declares ``declared`` (count and uniqueCount);
    ``pad`` bytes of an extra attribute before the counts push them out of a short look."""
    padding = f' pad="{"x" * pad}"' if pad else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{_MAIN}"{padding} count="{declared}" '
            f'uniqueCount="{declared}"><si><t>a</t></si></sst>')


def huge_shared_strings_xlsx(pad: int = 0) -> bytes:
    """One cell, and a sharedStrings part declaring 4,000,000,000 strings (96 GB reserved)."""
    return workbook('<row r="1"><c r="A1" t="s"><v>0</v></c></row>', shared_strings(4_000_000_000, pad))


def wide_csv(columns: int = 500_000) -> bytes:
    """A header of ``columns`` one-letter columns and one row like it (about 2 bytes a column)."""
    line = ";".join("a" for _ in range(columns)).encode()
    return line + b"\r\n" + line + b"\r\n"


def deep_json(levels: int = 100_000) -> bytes:
    return b"[" * levels + b"]" * levels


def huge_int_json(digits: int = 100_000) -> bytes:
    return b'[{"NIK": ' + b"7" * digits + b"}]"
