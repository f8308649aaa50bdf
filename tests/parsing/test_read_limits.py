"""Text and JSON built to exhaust the readers are refused with a reason, or lose only their bad
rows, before anything large is built (pipelines.parsing.read_delimited, read_json). Every file is
built here."""

from __future__ import annotations

import json
import tracemalloc

import pytest

from pipelines.parsing.layouts import CHILD_MEASUREMENTS
from pipelines.parsing.parse import parse_submission
from pipelines.parsing.pseudonym import Pseudonymiser
from pipelines.parsing.readers import FileError, read_table
from tests.parsing.crafted import deep_json, huge_int_json, wide_csv
from tests.paths import FIXTURES

HEADER = ";".join(CHILD_MEASUREMENTS.headers).encode()
ROW = b"1;3604015001230001;ANAK;L;15/01/2023;3,1;49;IBU;BANTEN;KAB SERANG;CIKANDE;PKM;CIKANDE;POS;001;002;KP;;" \
      b"01/08/2024;10,5;80,5;Terlentang;;;;;;;;;;;;"


def _read(content: bytes, name: str = "36.04.15.2001_2024-08.csv"):
    tracemalloc.start()
    try:
        return read_table(content, name, CHILD_MEASUREMENTS), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _refused(content: bytes, name: str = "x.csv") -> FileError:
    with pytest.raises(FileError) as err:
        _read(content, name)
    return err.value


def test_a_csv_with_500k_columns_is_refused_before_it_is_parsed():
    content = wide_csv(500_000)
    assert 1_000_000 < len(content) < 2_100_000
    tracemalloc.start()
    try:
        error = _refused(content)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(error) == "too_large: the header has 500,000 columns (limit 256)"
    assert peak < 32 * 1024**2  # a few copies of the text, nothing per column


def test_a_first_line_longer_than_any_header_is_refused():
    error = _refused(b"x" * 2_000_000 + b"\r\n" + ROW)
    assert str(error) == "too_large: the first line has 2,000,000 characters (limit 1,049,344: 256 columns of 4,096)"


def test_very_wide_rows_under_a_good_header_are_quarantined_one_at_a_time():
    wide = b"ab;" * 20_000 + b"ab"  # two-letter cells: each its own string (one letter would be shared)
    table, peak = _read(HEADER + b"\r\n" + ROW + b"\r\n" + b"\r\n".join([wide] * 100) + b"\r\n" + ROW + b"\r\n")
    assert table.row_numbers.tolist() == [2, 103]
    assert len(table.bad_rows) == 100 and table.bad_rows[0] == (3, "row has 20001 cells, header has 34")
    assert peak < 64 * 1024**2  # the text and its reader (about 30 MB), never all 2,000,000 cells (150 MB)


def test_an_enormous_field_quarantines_only_its_row():
    big = ROW.replace(b"ANAK", b"A" * 20_000_000)
    table, _ = _read(HEADER + b"\r\n" + ROW + b"\r\n" + big + b"\r\n" + ROW + b"\r\n")
    assert table.row_numbers.tolist() == [2, 4]
    assert [(n, code) for n, _, code in table.bad_rows] == [(3, "value_too_long")]


def test_json_nested_100k_deep_is_refused():
    assert str(_refused(deep_json(), "x.json")) == "bad_json: nested more than 32 levels deep"


def test_json_with_a_100k_digit_number_is_refused():
    assert str(_refused(huge_int_json(), "x.json")) == "bad_json: a number with 100,000 digits (limit 4,300)"


def test_a_json_value_nested_past_the_limit_is_refused():
    records = json.loads((FIXTURES / "sources" / "child_measurements" / "eppgbm_list.json").read_text())
    records[1]["Detail"] = json.loads("[" * 40 + "]" * 40)
    assert str(_refused(json.dumps(records).encode(), "x.json")) == "bad_json: nested more than 32 levels deep"
    records[1]["Detail"] = json.loads("[" * 20 + "]" * 20)  # deep, but not absurdly: kept as text
    assert len(read_table(json.dumps(records).encode(), "x.json", CHILD_MEASUREMENTS)) == 3


def test_a_long_json_integer_in_a_measurement_is_a_value_reject_not_a_pipeline_fault(regions):
    text = (FIXTURES / "sources" / "child_measurements" / "eppgbm_list.json").read_text()
    records = json.loads(text)
    records[0]["Berat"] = 0  # replaced by 4,000 digits below: within Python's limit, beyond a float
    content = json.dumps(records).replace('"Berat": 0', '"Berat": ' + "9" * 4000, 1).encode()
    result = parse_submission("child_measurements", content, "36.04.15.2001_2024-08.json",
                              pseudonymiser=Pseudonymiser(b"k"), regions=regions)
    assert result.file_error is None and len(result.rows) == 3
    assert result.rejects[["column", "reason_code", "level"]].values.tolist() == [
        ["weight_kg", "weight_out_of_range", "value"]]


def test_a_row_over_the_cell_limit_in_total_keeps_its_cells_when_none_is_over_alone():
    """Cells are measured only in a file with a row longer than the cell limit in all (a cell is no
    longer than its row): two cells of 3,000 bytes stay; a cell of one byte over the limit is
    refused with its row. The file is long enough for the Arrow reader."""
    from pipelines.parsing.cells import MAX_CELL

    two_long = ROW.replace(b"ANAK", b"A" * 3000).replace(b";IBU;", b";" + b"I" * 3000 + b";")
    over = ROW.replace(b"ANAK", b"A" * (MAX_CELL + 1))
    rows = [ROW] * 100 + [two_long, over] + [ROW] * 10
    table, _ = _read(HEADER + b"\r\n" + b"\r\n".join(rows) + b"\r\n")
    assert len(HEADER) + sum(map(len, rows)) > 16_384  # read by pyarrow
    assert len(table) == 111 and 102 in table.row_numbers.tolist() and 103 not in table.row_numbers.tolist()
    assert table.bad_rows == [(103, f"a cell of {MAX_CELL + 1:,} bytes (limit {MAX_CELL:,})", "value_too_long")]
    assert [len(c) for c in table.cells[table.names.index("child_name")].to_pylist()[100:101]] == [3000]
