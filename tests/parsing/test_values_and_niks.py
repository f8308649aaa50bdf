"""Issue 16 on real files (tests/fixtures/sources/child_measurements): a bad value loses only itself,
NIKs as Excel leaves them, and what the parser assumed kept as coded warnings."""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.parsing.parse import ParseResult, parse_submission
from pipelines.parsing.pseudonym import Pseudonymiser, clean_nik, normalise_nik, untrusted_nik
from pipelines.parsing.regions import RegionIndex
from pipelines.settings import BUNDLED_REGION_MASTER
from tests.paths import FIXTURES

FIX = FIXTURES / "sources" / "child_measurements"
KEY = b"issue-16-test-key"
PSEUDO = Pseudonymiser(KEY)


@pytest.fixture(scope="module")
def regions() -> RegionIndex:
    return RegionIndex.from_csv(BUNDLED_REGION_MASTER)


def parse(name: str, regions: RegionIndex) -> ParseResult:
    return parse_submission("child_measurements", (FIX / name).read_bytes(), name, pseudonymiser=PSEUDO,
                            regions=regions)


def warned(result: ParseResult) -> dict[str, int | None]:
    return {w.code: w.n_rows for w in result.warnings}


# --- 4. a bad value loses only itself ------------------------------------------------------------


def test_bad_values_are_nulled_and_recorded_and_their_rows_kept(regions):
    result = parse("eppgbm_bad_values.csv", regions)
    assert result.n_source_rows == 11 and len(result.rows) == 10 and result.n_rejected_rows == 1
    nulled = {(r.row_number, r.column, r.reason_code): None if pd.isna(r.original_value) else r.original_value
              for r in result.nulled.itertuples()}
    assert nulled == {
        (2, "lenhei_cm", "missing_value"): "0",
        (3, "weight_kg", "weight_out_of_range"): "250",
        (4, "weight_kg", "weight_out_of_range"): "-3",
        (5, "weight_kg", "missing_value"): None,  # an empty cell: nothing was read
        (6, "measure_position", "missing_value"): None,
        (7, "measure_position", "invalid_value"): "Duduk",
        (8, "lenhei_cm", "invalid_number"): "8o",
        (10, "birth_weight_kg", "out_of_range"): "45",
    }
    rows = result.rows.set_index("row_number")
    assert pd.isna(rows.loc[2, "lenhei_cm"]) and rows.loc[2, "weight_kg"] == 10.5
    assert pd.isna(rows.loc[3, "weight_kg"]) and rows.loc[3, "lenhei_cm"] == 79.5
    assert pd.isna(rows.loc[7, "measure"]) and rows.loc[7, "lenhei_cm"] == 80.0
    assert rows.loc[9, "birth_weight_kg"] == 3.8 and pd.isna(rows.loc[10, "birth_weight_kg"])
    # every other value of a row that lost one is there
    assert rows.loc[2, ["sex", "measure", "village_code"]].tolist() == [1, "l", "36.04.15.2001"]
    assert rows.loc[12].notna()[["weight_kg", "lenhei_cm", "measure", "birth_weight_kg"]].all()


def test_a_row_that_cannot_be_placed_is_still_quarantined_whole_with_all_its_faults(regions):
    result = parse("eppgbm_bad_values.csv", regions)
    row = result.rejects[result.rejects["row_number"] == 11]
    assert set(zip(row["column"], row["reason_code"], row["level"], strict=True)) == {
        ("village_name", "unknown_village", "row"), ("weight_kg", "weight_out_of_range", "row")}
    assert 11 not in set(result.rows["row_number"]) and row["payload"].notna().all()


def test_what_the_parser_assumed_is_warned_with_a_code_and_counts(regions):
    # no date part above 12 and no period to tell: day-first (the Indonesian convention), warned
    assert warned(parse("eppgbm_bad_values.csv", regions)) == {"unit_rescaled": 1, "date_order_guessed": 11}
    assert warned(parse("eppgbm_cp1252_comma.csv", regions)) == {"encoding_fallback": None, "date_order_guessed": 2}


# --- 5. NIKs as Excel leaves them ------------------------------------------------------------------


def test_niks_typed_with_prefix_spaces_dashes_dots_or_full_width_digits_identify_the_child(regions):
    result = parse("eppgbm_nik_as_typed.csv", regions)
    assert result.n_rejected_rows == 0 and len(result.rows) == 9
    rows = result.rows.set_index("row_number")
    for row in range(2, 8):  # clean, ', spaces, dashes, dots, full width
        clean = f"36010610012301{row - 1:02d}"
        assert rows.loc[row, "nik_valid"], row
        assert rows.loc[row, "child_id"] == PSEUDO.token_one("nik", clean), row
    assert rows.loc[10, "child_id"] == rows.loc[2, "child_id"]  # the clean child again, padded


def test_a_nik_rendered_as_a_number_in_a_csv_never_identifies(regions):
    result = parse("eppgbm_nik_as_typed.csv", regions)
    rows = result.rows.set_index("row_number")
    for row, name in ((8, "ANAK CONTOH ILMIAH"), (9, "ANAK CONTOH DESIMAL")):
        assert not rows.loc[row, "nik_valid"]
        assert rows.loc[row, "child_id"] == PSEUDO.token_one("child", f"{name}|2023-03-10|36.01.06.2002")
    assert warned(result) == {"nik_untrusted": 2, "nik_fallback": 2}


def test_numeric_nik_cells_of_a_regency_wide_workbook_fall_back_to_the_name(regions):
    result = parse("eppgbm_regency_numeric_nik.xlsx", regions)
    assert result.n_rejected_rows == 0 and len(result.rows) == 5
    rows = result.rows.set_index("row_number")
    assert rows["village_code"].tolist() == ["36.04.16.2002", "36.04.16.2002", "36.04.17.2002", "36.04.17.2002",
                                             "36.04.15.2002"]
    assert rows["nik_valid"].tolist() == [False, False, False, True, False]
    # a float with all 16 digits intact is still not trusted: nothing tells it from a truncated one
    assert rows.loc[2, "child_id"] == PSEUDO.token_one("child", "ANAK ANGKA 1|2023-01-11|36.04.16.2002")
    assert rows.loc[5, "child_id"] == PSEUDO.token_one("nik", "3604171001230204")  # the text cell
    assert warned(result) == {"nik_untrusted": 4, "nik_fallback": 4}


def test_no_identity_at_all_rejects_the_row(regions, tmp_path):
    text = (FIX / "eppgbm_nik_as_typed.csv").read_text(encoding="utf-8-sig").splitlines()
    cells = text[7].split(";")  # the scientific NIK
    cells[2] = ""  # and no name
    text[7] = ";".join(cells)
    result = parse_submission("child_measurements", "\n".join(text).encode(), "x.csv", pseudonymiser=PSEUDO,
                              regions=regions)
    assert result.rejects[["row_number", "column", "reason_code", "level"]].values.tolist() == [
        [8, "child_name", "missing_value", "row"]]


@pytest.mark.parametrize(("cell", "digits", "trusted"), [
    ("3601061001230101", "3601061001230101", True),
    ("'3601061001230101", "3601061001230101", True),
    ("\u20183601061001230101", "3601061001230101", True),
    ("3601 0610 0123 0101", "3601061001230101", True),
    ("3601\u00a00610\u00a001230101", "3601061001230101", True),
    ("3601-0610-0123-0101", "3601061001230101", True),
    ("3601.0610.0123.0101", "3601061001230101", True),
    ("\uff13\uff16\uff10\uff11\uff10\uff16\uff11\uff10\uff10\uff11\uff12\uff13\uff10\uff11\uff10\uff11",
     "3601061001230101", True),
    ("3.60106E+15", None, False),
    ("3,60106E+15", None, False),
    ("3601061001230101.0", None, False),
    (3601061001230101, "3601061001230101", False),
    (3601061001230100.0, "3601061001230100", False),
    (360106100123010, "360106100123010", False),
    ("360106100123", "360106100123", False),
])
def test_nik_normalisation_and_trust(cell, digits, trusted):
    values = pd.Series([cell], dtype=object if not isinstance(cell, str) else "str")
    if digits is not None:
        assert normalise_nik(values).iloc[0] == digits
    assert untrusted_nik(values).iloc[0] == (not isinstance(cell, str) or "E+" in cell or cell.endswith(".0"))
    assert clean_nik(values)[1].iloc[0] == trusted
