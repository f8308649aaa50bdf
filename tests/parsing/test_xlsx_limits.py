"""Workbooks whose declared sizes would make the reader abort are refused before it reads them
(pipelines.parsing.xlsx_limits), and what slips past is refused by the reader's child process
(pipelines.parsing.isolated), never by the death of this one. Every workbook is built here."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from pipelines.parsing import xlsx_limits
from pipelines.parsing.layouts import CHILD_MEASUREMENTS
from pipelines.parsing.readers import FileError, read_table, read_tables
from pipelines.parsing.xlsx_limits import check_workbook
from pipelines.synthetic.generate_xlsx import column_letter
from tests.parsing.crafted import far_corner_xlsx, huge_shared_strings_xlsx, text_cell, workbook
from tests.paths import FIXTURES

SERIAL_DATES = FIXTURES / "sources" / "child_measurements" / "eppgbm_serial_dates.xlsx"


def _refused(content: bytes) -> FileError:
    with pytest.raises(FileError) as err:
        read_table(content, "36.04.15.2001_2024-08.xlsx", CHILD_MEASUREMENTS)
    return err.value


def _child_sheet(extra_rows: str = "", extra_cells: str = "") -> str:
    """A header row of the e-PPGBM layout and one child, plus whatever the test adds."""
    headers = "".join(text_cell(f"{column_letter(i)}1", h) for i, h in enumerate(CHILD_MEASUREMENTS.headers))
    values = {"NIK": "3604015001230001", "Nama": "ANAK", "JK": "L", "Tgl Lahir": "15/01/2023",
              "Kab/Kota": "KAB SERANG", "Kec": "CIKANDE", "Desa/Kel": "CIKANDE", "Tanggal Pengukuran": "01/08/2024",
              "Berat": "10,5", "Tinggi": "80,5", "Cara Ukur": "Terlentang"}
    row = "".join(text_cell(f"{column_letter(i)}2", values[h]) for i, h in enumerate(CHILD_MEASUREMENTS.headers)
                  if h in values)
    return f'<row r="1">{headers}</row><row r="2">{row}{extra_cells}</row>{extra_rows}'


def test_cells_at_a1_and_xfd1048576_are_refused_before_the_reader_runs():
    content = far_corner_xlsx()
    assert len(content) < 2_000
    with pytest.raises(FileError) as err:
        check_workbook(content)  # the check alone, in this process
    assert err.value.code == "too_large"
    assert str(err.value) == "too_large: a cell in column 16,384 (at most 256 columns are read)"
    assert str(_refused(content)) == str(err.value)


def test_shared_strings_declaring_four_billion_are_refused():
    error = _refused(huge_shared_strings_xlsx())
    assert error.code == "too_large"
    assert "sharedStrings declares count=4,000,000,000 strings" in error.message and "at most 65,536" in error.message


def test_a_sparse_grid_far_larger_than_its_bytes_is_refused():
    # within the column and row limits, but 256 x 200,000 cells for a sheet of a few hundred bytes
    error = _refused(workbook(f'<row r="1">{text_cell("A1", "x")}</row><row r="200000">{text_cell("IV200000", "y")}'
                              "</row>"))
    assert error.code == "too_large"
    assert error.message.startswith("cells span 200,000 rows x 256 columns = 51,200,000 cells")


def test_rows_and_cells_without_references_are_placed_as_the_reader_places_them():
    wide = "<row>" + "<c><v>1</v></c>" * 300 + "</row>"  # no r: columns 1..300
    assert str(_refused(workbook(wide))) == "too_large: a cell in column 300 (at most 256 columns are read)"
    check_workbook(workbook("<row><c><v>1</v></c></row>" * 20))  # small and unreferenced: fine


def test_prefixed_cells_are_read_by_the_exact_path():
    sheet = '<x:row r="1"><x:c r="A1"><x:v>1</x:v></x:c><x:c r="XFD1"><x:v>2</x:v></x:c></x:row>'
    content = workbook(sheet).replace(b"<worksheet xmlns=", b"<worksheet xmlns:x=")
    assert "column 16,384" in _refused(content).message


def test_a_dimension_beyond_excel_is_refused_a_merely_large_one_is_not():
    beyond = workbook(_child_sheet(), dimension="A1:XFE1048577")
    assert "beyond Excel's last cell" in _refused(beyond).message
    # Excel's "used range" counts a formatted empty cell: the reader skips those, so must we
    formatted = workbook(_child_sheet('<row r="1048576"><c r="XFD1048576" s="1"/></row>', '<c r="XFD2" s="1"></c>'),
                         dimension="A1:XFD1048576")
    assert len(read_table(formatted, "36.04.15.2001_2024-08.xlsx", CHILD_MEASUREMENTS)) == 1


@pytest.mark.parametrize("path", [p for p in sorted((FIXTURES / "sources").rglob("*.xlsx")) if zipfile.is_zipfile(p)],
                         ids=lambda p: p.name)
def test_the_fast_scan_agrees_with_the_exact_one(path: Path):
    zf = zipfile.ZipFile(path)
    for name in (n for n in zf.namelist() if n.startswith("xl/worksheets/")):
        xml = zf.read(name)
        refs = xlsx_limits._CELL_REF.findall(xml)
        exact = (max((int(r) for _, r, _, _ in refs), default=0),
                 max((xlsx_limits.column_number(c) for c, _, _, _ in refs), default=0))
        assert xlsx_limits._extent_canonical(xml) == exact, name


@pytest.mark.parametrize("xml", [
    b'<c r="A1">', b'<row r="1048576"><c r="XFD1048576"/>', b'<x:c r="A1">', b'<c>', b'<c t="s" r="A1">',
    b'<c r="A0000001"/><c r="B99"/>', b'<c r="AAAA1">', b'<c r="A12345678">', b'<c r="a1">', b'<c\tr="A1">',
    b'<cols><col min="1"/></cols><c r="C3" t="s"><v>1</v></c>', b'<c r="A1', b'<c r="', b'a:c ', b'',
    b'<c r="ZZZ9999999"/>', b'<c r="AB12"><is><t>x:c y</t></is></c>',
])
def test_the_native_fast_scan_agrees_with_numpy(xml: bytes):
    """The one-pass native scan and the numpy one give the same extent, or both leave the chunk
    to the exact path (None); a row written with leading zeros counts as its value."""
    from pipelines.parsing import native

    assert native.status() == "native", native.status()
    assert xlsx_limits._extent_canonical(xml) == xlsx_limits._extent_canonical_numpy(xml)
    if xml == b'<c r="A0000001"/><c r="B99"/>':
        assert xlsx_limits._extent_canonical(xml) == (99, 2)


def test_shared_strings_hidden_from_the_check_are_refused_by_the_child_process():
    # the counts sit past the 64 KB the check reads: the reader really aborts, in its child
    content = huge_shared_strings_xlsx(pad=70_000)
    check_workbook(content)
    good = SERIAL_DATES.read_bytes()
    results = read_tables([("a.xlsx", good), ("b.xlsx", content), ("c.xlsx", good)], CHILD_MEASUREMENTS)
    assert [type(r).__name__ for r in results] == ["RawTable", "FileError", "RawTable"]
    assert str(results[1]) == "too_large: reading needed more memory than the 2,048 MB allowed"
    assert len(results[0]) == len(results[2]) == len(read_table(good, "x.xlsx", CHILD_MEASUREMENTS))


def test_the_check_hands_the_reader_the_sheet_it_inflated_and_only_a_bounded_one(monkeypatch):
    """check_workbook returns the first sheet's XML as it scanned it, byte for byte what the zip
    holds, and the reader reads the same table from it as from the workbook alone; a sheet over
    KEEP_SHEET_BYTES is not kept (the reader inflates it itself), nor is any sheet when the first
    one cannot be told."""
    import io

    from pipelines.parsing.read_xlsx import read_xlsx
    from pipelines.parsing.xlsx_limits import first_sheet

    content = SERIAL_DATES.read_bytes()
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        (sheet,) = first_sheet(zf)
        xml = zf.read(sheet)
    assert check_workbook(content) == xml
    shared, alone = read_xlsx(content, CHILD_MEASUREMENTS, xml), read_xlsx(content, CHILD_MEASUREMENTS)
    assert shared.names == alone.names and shared.row_numbers.tolist() == alone.row_numbers.tolist()
    assert [list(c) for c in shared.cells] == [list(c) for c in alone.cells]
    small = workbook(_child_sheet())
    monkeypatch.setattr(xlsx_limits, "KEEP_SHEET_BYTES", 100)
    assert check_workbook(small) is None
    assert read_table(small, "36.04.15.2001_2024-08.xlsx", CHILD_MEASUREMENTS).row_numbers.tolist() == [2]
    monkeypatch.setattr(xlsx_limits, "KEEP_SHEET_BYTES", 32 * 1024 * 1024)
    assert check_workbook(small).startswith(b"<") and b"<row" in check_workbook(small)
    monkeypatch.setattr(xlsx_limits, "first_sheet", lambda zf: [i for i in zf.infolist() if i.filename.endswith(".xml")])
    assert check_workbook(small) is None  # several candidates: nothing handed over
