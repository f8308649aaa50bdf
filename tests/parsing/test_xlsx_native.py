"""The native workbook reader (pipelines.parsing.xlsx_native, native/xlsx_grid.c) against
python-calamine: on every workbook it reads, the same grid (values and their types); on every
workbook it does not handle exactly, None, so that calamine reads it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from pipelines.parsing import native
from pipelines.parsing.layouts import CHILD_MEASUREMENTS
from pipelines.parsing.read_xlsx import _calamine_grid, read_xlsx
from pipelines.parsing.xlsx_native import native_grid
from tests.parsing.crafted import workbook
from tests.paths import FIXTURES

needs_reader = pytest.mark.skipif(native.grid_module() is None,
                                  reason="native workbook reader not built (make install)")

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def typed(grid) -> list:
    return [[(type(cell), cell) for cell in row] for row in grid]


def same_as_calamine(content: bytes) -> bool:
    """Whether the native reader read ``content`` (False: sent back); when it did, its grid must
    be calamine's, value for value and type for type."""
    found = native_grid(content)
    if found is None:
        return False
    names, grid = _calamine_grid(content)
    assert found[0] == names
    assert typed(found[1]) == typed(grid)
    return True


def styles(*formats: str, custom: dict[int, str] | None = None) -> str:
    """A styles.xml whose cell styles 0, 1, ... have the number formats ``formats`` (ids)."""
    fmts = "".join(f'<numFmt numFmtId="{i}" formatCode="{escape(code, {chr(34): "&quot;"})}"/>'
                   for i, code in (custom or {}).items())
    xfs = "".join(f'<xf numFmtId="{f}" fontId="0" fillId="0" borderId="0" xfId="0"/>' for f in formats)
    return (f'<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="{_MAIN}">'
            f'{f"<numFmts>{fmts}</numFmts>" if fmts else ""}<fonts count="1"><font/></fonts>'
            '<cellStyleXfs count="1"><xf numFmtId="0"/></cellStyleXfs>'
            f'<cellXfs count="{len(formats)}">{xfs}</cellXfs></styleSheet>')


def sst(*texts: str) -> str:
    items = "".join(t if t.startswith("<si") else f"<si><t>{t}</t></si>" for t in texts)
    return f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{_MAIN}">{items}</sst>'


@needs_reader
def test_generated_workbooks_are_read_natively_and_equal_calamine(tmp_path):
    from pipelines.synthetic.generate import generate

    generate(tmp_path, "small", 11)
    books = sorted(tmp_path.rglob("*.xlsx"))
    assert len(books) >= 5
    read = [same_as_calamine(p.read_bytes()) for p in books]
    assert all(read), [p.name for p, r in zip(books, read, strict=True) if not r]


@needs_reader
def test_fixture_workbooks():
    books = sorted((FIXTURES / "sources").rglob("*.xlsx"))
    natively = {p.name: same_as_calamine(p.read_bytes()) for p in books if p.read_bytes()[:2] == b"PK"}
    assert natively["eppgbm_regency_numeric_nik.xlsx"]  # inline strings, numbers, a datetime style
    assert not natively["eppgbm_serial_dates.xlsx"]  # two sheets: calamine


TEXT_CASES = {
    "entities": "A &amp; B &lt;C&gt; &quot;D&quot; &apos;E&apos;",
    "character references": "caf&#233; &#x2019;x&#x2019; &#128512;",
    "unicode": "Sumur Bandung – Cipanas ✓ 日本",
    "empty": "",
    "inner spaces": "KP.  CILIMUS   LOR",
    "newline inside": "RT 01\nRW 02",
}


@needs_reader
@pytest.mark.parametrize("case", list(TEXT_CASES))
def test_shared_and_inline_text(case):
    text = TEXT_CASES[case]
    shared = workbook('<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>',
                      shared_strings=sst("x", text))
    inline = workbook(f'<row r="1"><c r="A1" t="inlineStr"><is><t>{text}</t></is></c></row>')
    assert same_as_calamine(shared)
    assert same_as_calamine(inline)


@needs_reader
def test_white_space_at_the_ends_is_kept_only_when_preserved():
    preserved = workbook('<row r="1"><c r="A1" t="s"><v>0</v></c></row>',
                         shared_strings=sst('<si><t xml:space="preserve">3601012210238830 </t></si>'))
    assert same_as_calamine(preserved)
    assert native_grid(preserved)[1] == [["3601012210238830 "]]
    trimmed = workbook('<row r="1"><c r="A1" t="s"><v>0</v></c></row>', shared_strings=sst(" padded "))
    assert native_grid(trimmed) is None  # calamine's trimming: left to calamine
    assert _calamine_grid(trimmed)[1]


@needs_reader
def test_numbers_booleans_formulas_and_sparse_cells():
    cells = (
        '<row r="1"><c r="A1"><v>1</v></c><c r="B1" t="n"><v>-3.25</v></c><c r="C1"><v>1.5E-3</v></c>'
        '<c r="D1"><v>0.1</v></c><c r="E1"><v>123456789012345678</v></c><c r="F1"><v>-0</v></c>'
        '<c r="G1"><v>45513.999999999993</v></c></row>'
        '<row r="3"><c r="B3" t="b"><v>1</v></c><c r="C3" t="b"><v>0</v></c>'
        '<c r="D3"><f>SUM(A1:B1)</f><v>-2.25</v></c><c r="E3" t="str"><f>"a"&amp;"b"</f><v>ab</v></c>'
        '<c r="F3" s="0"/><c r="H3"><v></v></c></row>'
        '<row r="5"><c r="C5" t="s"><v>0</v></c></row>'
    )
    book = workbook(cells, shared_strings=sst(""), styles=styles("0"))
    assert same_as_calamine(book)
    grid = native_grid(book)[1]
    assert len(grid) == 5 and len(grid[0]) == 7  # A1 to the last cell holding a value (G1; C5 "")
    assert grid[2][1] is True and grid[2][3] == -2.25 and grid[1] == [""] * 7


@needs_reader
def test_a_later_formula_empties_the_cell_and_duplicates_keep_the_last():
    book = workbook('<row r="1"><c r="A1"><v>5</v><f>A2</f></c><c r="B1"><v>1</v></c><c r="B1"><v>2</v></c>'
                    '<c r="C1"><v>9</v></c></row>')
    assert same_as_calamine(book)


@needs_reader
@pytest.mark.parametrize("fmt,custom", [
    ("14", None), ("22", None), ("164", {164: "dd/mm/yyyy"}), ("165", {165: "[$-421]dd mmmm yyyy"}),
    ("166", {166: "yyyy-mm-dd h:mm:ss"}),
])
def test_dates_in_date_styles(fmt, custom):
    cells = ('<row r="1"><c r="A1" s="1"><v>45513</v></c><c r="B1" s="1"><v>45513.5</v></c>'
             '<c r="C1" s="1"><v>61</v></c><c r="D1" s="1"><v>2958465</v></c>'
             '<c r="E1" s="1"><v>43729.123456789</v></c><c r="F1" s="0"><v>45513</v></c></row>')
    book = workbook(cells, styles=styles("0", fmt, custom=custom))
    assert same_as_calamine(book)
    row = native_grid(book)[1][0]
    assert row[0] == dt.date(2024, 8, 9) and row[1] == dt.datetime(2024, 8, 9, 12) and row[5] == 45513.0


@needs_reader
@pytest.mark.parametrize("why,cells,kwargs", [
    ("a time", '<c r="A1" s="1"><v>0.5</v></c>', {"styles": styles("0", "20")}),
    ("a serial in Excel's fictitious leap day", '<c r="A1" s="1"><v>59</v></c>', {"styles": styles("0", "14")}),
    ("a duration style", '<c r="A1" s="1"><v>1.5</v></c>', {"styles": styles("0", "46")}),
    ("a currency format", '<c r="A1" s="1"><v>1500000</v></c>',
     {"styles": styles("0", "164", custom={164: '"Rp"#,##0'})}),
    ("the 1904 date system", '<c r="A1" s="1"><v>45513</v></c>',
     {"styles": styles("0", "14"), "workbook_pr": '<workbookPr date1904="1"/>'}),
    ("a style beyond cellXfs", '<c r="A1" s="7"><v>1</v></c>', {"styles": styles("0")}),
    ("an error cell", '<c r="A1" t="e"><v>#N/A</v></c>', {}),
    ("an ISO date cell", '<c r="A1" t="d"><v>2024-08-09</v></c>', {}),
    ("a cell without r", '<c><v>1</v></c>', {}),
    ("an attribute written twice", '<c r="A1" cm="1" cm="1"><v>1</v></c>', {}),
    ("a prefixed cell", '<x:c xmlns:x="urn:x" r="A1"><x:v>1</x:v></x:c>', {}),
    ("a number with spaces", '<c r="A1"><v> 1</v></c>', {}),
    ("text in a number cell", '<c r="A1"><v>abc</v></c>', {}),
    ("a rich text cell", '<c r="A1" t="inlineStr"><is><r><t>a</t></r><r><t>b</t></r></is></c>', {}),
    ("an escaped control character", '<c r="A1" t="inlineStr"><is><t>a_x000D_b</t></is></c>', {}),
    ("a CR", '<c r="A1" t="inlineStr"><is><t>a\rb</t></is></c>', {}),
    ("a shared string index beyond the table", '<c r="A1" t="s"><v>5</v></c>', {}),
])
def test_what_is_left_to_calamine(why, cells, kwargs):
    book = workbook(f'<row r="1">{cells}</row>', **kwargs)
    assert native_grid(book) is None, why


@needs_reader
def test_a_string_table_not_holding_what_it_declares_is_left_to_calamine():
    """calamine reserves the declared uniqueCount first (a crafted count aborts it in its child)."""
    declared = sst("a", "b").replace("<sst ", '<sst uniqueCount="3" ')
    book = workbook('<row r="1"><c r="A1" t="s"><v>0</v></c></row>', shared_strings=declared)
    assert native_grid(book) is None
    exact = workbook('<row r="1"><c r="A1" t="s"><v>0</v></c></row>',
                     shared_strings=sst("a", "b").replace("<sst ", '<sst count="1" uniqueCount="2" '))
    assert same_as_calamine(exact)


@needs_reader
def test_rich_shared_strings_are_left_to_calamine():
    book = workbook('<row r="1"><c r="A1" t="s"><v>0</v></c></row>',
                    shared_strings=sst('<si><r><rPr><b/></rPr><t>BOLD</t></r><r><t> rest</t></r></si>'))
    assert native_grid(book) is None
    assert _calamine_grid(book)[1][0][0].startswith("BOLD")  # calamine trims each run: "BOLDrest"


@needs_reader
def test_an_empty_sheet():
    book = workbook("")
    assert same_as_calamine(book)
    assert native_grid(book)[1] == []


@needs_reader
def test_read_xlsx_gives_the_same_table_either_way(monkeypatch):
    """The whole reader, native grid against calamine's: same names, cells and row numbers."""
    path = next((FIXTURES / "sources").rglob("eppgbm_regency_numeric_nik.xlsx"))
    content = path.read_bytes()
    fast = read_xlsx(content, CHILD_MEASUREMENTS)
    monkeypatch.setattr("pipelines.parsing.read_xlsx.native_grid", lambda _content, _sheet_xml=None: None)
    slow = read_xlsx(content, CHILD_MEASUREMENTS)
    assert fast.names == slow.names and fast.row_numbers.tolist() == slow.row_numbers.tolist()
    for a, b in zip(fast.cells, slow.cells, strict=True):
        assert type(a) is type(b)
        assert (a.to_pylist() if hasattr(a, "to_pylist") else list(a)) == (
            b.to_pylist() if hasattr(b, "to_pylist") else list(b))
    assert fast.warnings == slow.warnings and fast.bad_rows == slow.bad_rows


def test_the_reader_is_built_for_this_interpreter_only():
    """Each Python version finds only its own build (a 3.11 module would not load in 3.12), and
    where it can be built (a compiler and this Python's headers), it is: the tests above must not
    skip unnoticed on a machine that should run them."""
    import shutil
    import sysconfig

    assert native.grid_module_path().name == "_xlsx_grid" + sysconfig.get_config_var("EXT_SUFFIX")
    include = sysconfig.get_paths().get("include")
    if shutil.which("cc") and include and Path(include, "Python.h").exists():
        native.build()
        native._grid_module.clear()
        assert native.grid_module() is not None


@needs_reader
def test_damaged_workbooks_never_read_differently_from_calamine():
    """Bytes changed, cut or inserted at random in the sheet and the string table (a seeded
    sample of what a damaged upload looks like): the native reader never crashes, and whenever it
    reads the workbook its grid is calamine's; a workbook calamine refuses, it sends back."""
    import random

    rows = "".join(
        f'<row r="{r}"><c r="A{r}" t="s"><v>{r % 3}</v></c><c r="B{r}"><v>{r * 1.5}</v></c>'
        f'<c r="C{r}" s="1"><v>{45500 + r}</v></c><c r="D{r}" t="b"><v>{r % 2}</v></c>'
        f'<c r="E{r}" t="inlineStr"><is><t>RT {r:02d} &amp; RW</t></is></c></row>' for r in range(1, 30))
    sheet = (f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_MAIN}"><dimension ref="A1:E29"/>'
             f'<sheetViews><sheetView workbookViewId="0"/></sheetViews><sheetData>{rows}</sheetData>'
             '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></worksheet>')
    strings = sst("NAUFAL", '<si><t xml:space="preserve">3601012210238830 </t></si>', "Desa &lt;1&gt;")
    style = styles("0", "14")
    rnd = random.Random(20261203)
    alphabet = b'<>/"\'=&;#x0123456789.-eE tsnbrvcfi:\r\n'

    def damaged(text: str) -> str:
        data = bytearray(text.encode())
        for _ in range(rnd.randint(1, 3)):
            if not data:
                break
            at = rnd.randrange(len(data))
            op = rnd.random()
            tags = [i for i, b in enumerate(data) if b == ord("<")]
            if op < 0.2 and tags:  # a tag's '<' lost: stray text, tags that no longer nest
                data[rnd.choice(tags)] = rnd.choice(alphabet)
            elif op < 0.4:
                data[at] = rnd.choice(alphabet)
            elif op < 0.7:
                del data[at:at + rnd.randint(1, 12)]
            elif op < 0.9:
                data[at:at] = bytes(rnd.choice(alphabet) for _ in range(rnd.randint(1, 4)))
            else:
                del data[at:]
        return data.decode("utf-8", "replace")

    assert same_as_calamine(workbook("", sheet_xml=sheet, shared_strings=strings, styles=style))
    read = 0
    for _ in range(1500):
        damage_sheet = rnd.random() < 0.7
        book = workbook("", sheet_xml=damaged(sheet) if damage_sheet else sheet,
                        shared_strings=strings if damage_sheet else damaged(strings), styles=style)
        found = native_grid(book)
        if found is None:
            continue
        read += 1
        try:
            names, grid = _calamine_grid(book)
        except Exception as exc:  # noqa: BLE001 - any refusal by calamine
            raise AssertionError(f"calamine refuses ({exc}) what the native reader read") from exc
        assert found[0] == names and typed(found[1]) == typed(grid)
    assert read >= 20, read  # the sample does exercise the native path
