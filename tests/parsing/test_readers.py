"""Bytes -> cells: format detection, encodings, delimiters, XLSX and JSON quirks
(pipelines.parsing.readers), exercised on the hand-made fixtures in tests/fixtures/sources."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from pipelines.parsing.cells import ParseWarning
from pipelines.parsing.layouts import CHILD_MEASUREMENTS, HOUSEHOLDS
from pipelines.parsing.read_delimited import sniff_delimiter
from pipelines.parsing.readers import FileError, detect_format, read_table
from tests.paths import FIXTURES

FIX = FIXTURES / "sources"


def fixture(path: str) -> bytes:
    return (FIX / path).read_bytes()


def read_child(path: str):
    return read_table(fixture(path), Path(path).name, CHILD_MEASUREMENTS)


def test_utf8_bom_semicolon_crlf():
    content = fixture("child_measurements/eppgbm_bom_semicolon.csv")
    assert content.startswith(b"\xef\xbb\xbf") and b"\r\n" in content
    table = read_child("child_measurements/eppgbm_bom_semicolon.csv")
    assert "nik" in table.frame.columns and "row_no" in table.frame.columns  # BOM not glued to "No"
    assert table.frame["weight_kg"].iloc[0] == "10,5"
    assert table.row_numbers[:3].tolist() == [2, 3, 4]
    assert table.warnings == []


def test_cp1252_comma_and_quoted_delimiter():
    table = read_child("child_measurements/eppgbm_cp1252_comma.csv")
    assert table.warnings == [ParseWarning("encoding_fallback", "decoded as cp1252")]
    assert table.frame["child_name"].tolist() == ["ANAK CAFÉ \u2019CONTOH\u2019", "ANAK CONTOH, KOMA"]


def test_xlsx_keeps_native_cells_finds_header_below_title_row():
    table = read_child("child_measurements/eppgbm_serial_dates.xlsx")
    assert table.file_format == "xlsx"
    assert table.row_numbers.tolist() == [3, 4, 5, 6]  # title row 1, header row 2
    assert table.frame["birth_date"].iloc[0] == 45505
    assert [(w.code, w.detail) for w in table.warnings] == [("sheet_ignored", "only the first sheet 'Data Balita' was read")]


def test_json_list_and_rows_object():
    listed = read_child("child_measurements/eppgbm_list.json")
    wrapped = read_child("child_measurements/eppgbm_rows.json")
    assert listed.row_numbers.tolist() == [1, 2, 3]
    assert listed.frame["nik"].tolist() == wrapped.frame["nik"].tolist()[::-1]


def test_reordered_headers_and_alias_spellings():
    table = read_table(fixture("households/p3ke_aliases.csv"), "p3ke.csv", HOUSEHOLDS)
    assert {"village_code", "receives_bpnt", "family_id", "welfare_decile"} <= set(table.frame.columns)
    assert table.frame["village_code"].iloc[0] == "36.04.15.2001"
    assert table.frame["receives_bpnt"].iloc[0] == "Ya"
    assert table.warnings == [ParseWarning("column_dropped", "unknown columns dropped: Kolom Tambahan")]


@pytest.mark.parametrize(
    ("content", "name", "code"),
    [
        (fixture("child_measurements/garbage.csv"), "x.csv", "undecodable"),
        (b"NIK;Nama\r\n36\x0001;A\r\n", "x.csv", "undecodable"),
        (fixture("child_measurements/csv_inside.xlsx"), "x.xlsx", "format_mismatch"),
        (fixture("child_measurements/eppgbm_serial_dates.xlsx"), "x.csv", "format_mismatch"),
        (fixture("child_measurements/eppgbm_list.json"), "x.csv", "format_mismatch"),
        (b"[1, 2", "x.json", "bad_json"),
        (b'{"data": []}', "x.json", "bad_json"),
        (b"", "x.csv", "empty"),
    ],
)
def test_unusable_files(content, name, code):
    with pytest.raises(FileError) as err:
        read_table(content, name, CHILD_MEASUREMENTS)
    assert err.value.code == code


def test_zip_that_is_not_a_workbook():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("data.csv", "a;b\n")
    assert detect_format(buf.getvalue()) == "zip"
    with pytest.raises(FileError) as err:
        read_table(buf.getvalue(), "x.xlsx", CHILD_MEASUREMENTS)
    assert err.value.code == "not_xlsx"


def test_missing_columns_named_by_exported_header():
    with pytest.raises(FileError) as err:
        read_child("child_measurements/missing_columns.csv")
    assert str(err.value) == "missing_columns: NIK, Berat"


def test_headerless_file_does_not_echo_cells_in_errors():
    content = b"1;3604015001230001;ANAK CONTOH;L\r\n"
    with pytest.raises(FileError) as err:
        read_table(content, "x.csv", CHILD_MEASUREMENTS)
    assert err.value.code == "missing_columns" and "3604015001230001" not in str(err.value)


def test_delimiter_sniffed_from_header_line():
    assert sniff_delimiter('"Kab/Kota";"Kec";"a,b"') == ";"
    assert sniff_delimiter("NIK\tNama\tJK") == "\t"
    assert sniff_delimiter("NIK,Nama") == ","


def test_tab_delimited_blank_lines_and_short_rows():
    head = "\t".join(CHILD_MEASUREMENTS.headers)
    row = "\t".join(["1", "3604015001230001", "ANAK", "L"])  # short row: the rest is empty
    table = read_table(f"{head}\n{row}\n\n{row}\n\n".encode(), "x.csv", CHILD_MEASUREMENTS)
    assert table.row_numbers.tolist() == [2, 4]
    assert table.frame["weight_kg"].tolist() == ["", ""]


def test_row_with_too_many_cells_is_reported_not_fatal():
    head = ";".join(CHILD_MEASUREMENTS.headers)
    ok = ";".join(["1"] + [""] * (len(CHILD_MEASUREMENTS.headers) - 1))
    bad = ok + ";extra;cells"
    table = read_table(f"{head}\n{ok}\n{bad}\n{ok}\n".encode(), "x.csv", CHILD_MEASUREMENTS)
    assert table.row_numbers.tolist() == [2, 4]
    assert [r for r, _ in table.bad_rows] == [3]


def test_xlsx_cells_typed_column_by_column_as_openpyxl_gives_them():
    """The sheet is typed a column at a time (text straight to Arrow, numbers through numpy): each
    cell still reads as openpyxl's data_only value, and rows are kept or refused as cell by cell."""
    import datetime as dt

    import openpyxl
    import pyarrow as pa

    from pipelines.parsing.cells import MAX_CELL

    canonical = [c for c, _ in CHILD_MEASUREMENTS.columns]

    def row(beyond=(), **cells):
        return [cells.get(c) for c in canonical] + list(beyond)

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Laporan e-PPGBM"])  # a title row above the header
    ws.append(list(CHILD_MEASUREMENTS.headers))
    ws.append(row(nik="3604015001230001", child_name="ANAK SATU", weight_kg=9.0, lenhei_cm=75.5,
                  birth_date=dt.datetime(2023, 1, 15)))
    ws.append(row(nik=3604015001230002, child_name="ANAK DUA", weight_kg=10.25, lenhei_cm=2.0**53,
                  birth_date="15/01/2023"))  # a NIK typed as a number
    ws.append(row(nik="   "))  # white space only: not a row
    ws.append(row(["y" * (MAX_CELL + 1)], nik="3604015001230003", lenhei_cm=80))  # a long cell beyond the header
    ws.append(row(nik="3604015001230004", child_name="  ", weight_kg=11)[:canonical.index("weight_kg") + 1])  # a short row
    buf = io.BytesIO()
    wb.save(buf)
    table = read_table(buf.getvalue(), "36.04.15.2001_2024-08.xlsx", CHILD_MEASUREMENTS)
    frame = table.frame
    assert table.row_numbers.tolist() == [3, 4, 7]
    assert table.bad_rows == [(6, f"a cell of {MAX_CELL + 1:,} characters (limit {MAX_CELL:,})", "value_too_long")]
    assert frame["nik"].tolist() == ["3604015001230001", 3604015001230002, "3604015001230004"]
    assert [type(v) for v in frame["nik"]] == [str, int, str]
    assert frame["weight_kg"].tolist() == [9, 10.25, 11] and [type(v) for v in frame["weight_kg"]] == [int, float, int]
    assert frame["lenhei_cm"].tolist() == [75.5, 2.0**53, None]
    assert type(frame["lenhei_cm"][1]) is float  # too large to be a whole number exactly
    assert frame["birth_date"].tolist() == [dt.datetime(2023, 1, 15), "15/01/2023", None]
    names = table.cells[table.names.index("child_name")]
    assert isinstance(names, pa.Array) and names.to_pylist() == ["ANAK SATU", "ANAK DUA", None]


def test_xlsx_cell_length_is_counted_in_characters_where_bytes_could_mislead():
    """A text column none of whose cells has more bytes than the limit is not measured cell by cell;
    one that has (UTF-8 takes two bytes for an accented letter) is, in characters: a cell of 3,000
    characters in 6,000 bytes stays, one of MAX_CELL + 1 characters is refused, and a text column
    with no empty cell reads as one with some."""
    import openpyxl

    from pipelines.parsing.cells import MAX_CELL

    canonical = [c for c, _ in CHILD_MEASUREMENTS.columns]

    def row(**cells):
        return [cells.get(c) for c in canonical]

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(list(CHILD_MEASUREMENTS.headers))
    ws.append(row(nik="3604015001230001", child_name="\u00e9" * 3000, address="JL. MAWAR"))
    ws.append(row(nik="3604015001230002", child_name="ANAK", address="\u00e9" * (MAX_CELL + 1)))
    ws.append(row(nik="3604015001230003", child_name="ANAK TIGA", address="JL. MELATI"))
    buf = io.BytesIO()
    wb.save(buf)
    table = read_table(buf.getvalue(), "36.04.15.2001_2024-08.xlsx", CHILD_MEASUREMENTS)
    assert table.row_numbers.tolist() == [2, 4]
    assert table.bad_rows == [(3, f"a cell of {MAX_CELL + 1:,} characters (limit {MAX_CELL:,})", "value_too_long")]
    assert table.frame["child_name"].tolist() == ["\u00e9" * 3000, "ANAK TIGA"]
    assert table.cells[table.names.index("nik")].to_pylist() == ["3604015001230001", "3604015001230003"]


def test_decoding_skips_the_binary_check_only_where_it_could_not_refuse():
    """Text without a control byte skips the control-character check: for UTF-8, Windows-1252 and
    BOMs, every such text must be one the check passes, and text with control bytes still goes
    through it (NULs, tabs, CRs, stray control bytes, UTF-16 in 3,000 random mixes)."""
    import random

    from pipelines.parsing.read_delimited import _CONTROL_BYTES, decode_text, refuse_binary

    rng = random.Random(20261202)
    pieces = [b"NIK;Nama;Tgl\r\n", b"36;Siti;1/2/2024\n", b"\t", b"\r", b"\x00", b"\x01", b"\x1b", b"\x7f",
              "Ibu Ani Sumarni;\u00e9;\u00fc\n".encode(), "B\u00e2\n".encode("cp1252"), b"\x81", b"\xe9",
              b"\x93\x94", b"\xef\xbb\xbf", b"a" * 300]
    heads = [b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"]
    skipped = checked = 0
    for _ in range(3000):
        content = rng.choice(heads) + b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 40)))
        try:
            text, encoding = decode_text(content)
        except FileError as exc:
            assert exc.code == "undecodable"
            checked += 1
            continue
        if encoding != "utf-16" and not any(b in _CONTROL_BYTES for b in content):
            refuse_binary(text, encoding)  # what the skipped check would have said: nothing
            skipped += 1
        else:
            checked += 1
    assert skipped > 50 and checked > 50  # both paths taken (96 and 2,904 with this seed)


def test_plain_ascii_files_read_from_their_bytes_as_the_text_path_reads_them(monkeypatch):
    """Large plain-ASCII CSVs skip decoding into a str (read_delimited._read_ascii); every fixture
    CSV, repeated past the pyarrow threshold, reads the same through both paths."""
    from pipelines.parsing import read_delimited as rd

    def read(content: bytes, layout):
        try:
            t = rd.read_csv(content, layout)
        except FileError as exc:
            return str(exc)
        return (t.names, [c.to_pylist() if hasattr(c, "to_pylist") else list(c) for c in t.cells],
                t.row_numbers.tolist(), t.warnings, t.bad_rows)

    fast = rd._read_ascii
    compared = 0
    for path in sorted(FIX.rglob("*.csv")):
        if path.parent.name not in ("child_measurements", "households"):
            continue
        layout = CHILD_MEASUREMENTS if path.parent.name == "child_measurements" else HOUSEHOLDS
        head, _, body = path.read_bytes().partition(b"\n")
        content = head + b"\n" + body * max(1, rd.ARROW_MIN_BYTES // max(len(body), 1) + 1)
        if not (content.isascii() and len(content) >= rd.ARROW_MIN_BYTES):
            continue
        monkeypatch.setattr(rd, "_read_ascii", lambda c, layout: None)
        want = read(content, layout)
        monkeypatch.setattr(rd, "_read_ascii", fast)
        assert read(content, layout) == want, path.name
        compared += 1
    assert compared >= 2
    header = b"No;NIK;Nama;JK;Tgl Lahir;Kab/Kota;Kec;Desa/Kel;Tanggal Pengukuran;Berat;Tinggi;Cara Ukur"
    row = b'1;3601012210238830;"ANAK; KOMA";L;2022-01-05;KAB. PANDEGLANG;CIKEUSIK;CIKEUSIK;2024-08-05;10,5;80;Berdiri'
    crafted = {
        "CRLF and blank lines first": b"\r\n\r\n" + header + b"\r\n" + (row + b"\r\n") * 200,
        "a quoted newline": header + b"\n" + (row.replace(b"ANAK; KOMA", b"ANAK\nKOMA") + b"\n") * 200,
        "a ragged row (pyarrow refuses, the csv module reads)": header + b"\n" + (row + b"\n") * 200 + b"1;2\n",
        "a control byte (not the fast path)": header + b"\n" + (row + b"\n") * 200 + row.replace(b"ANAK", b"AN\x01AK"),
        "no data rows": header + b"\n" + b" " * rd.ARROW_MIN_BYTES,
        "white space only": b" \r\n\t" * rd.ARROW_MIN_BYTES,
    }
    for name, content in crafted.items():
        assert len(content) >= rd.ARROW_MIN_BYTES, name
        monkeypatch.setattr(rd, "_read_ascii", lambda c, layout: None)
        want = read(content, CHILD_MEASUREMENTS)
        monkeypatch.setattr(rd, "_read_ascii", fast)
        assert read(content, CHILD_MEASUREMENTS) == want, name
