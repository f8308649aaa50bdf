"""Issue 16 through ingestion (pipelines.ingestion): real fixture files in a landing folder, the real
parser, a real DuckDB file. A bad value lands as null and is recorded with its reason; NIKs that
arrived as numbers are counted per submission; the parser's warnings are stored per submission."""

from __future__ import annotations

import functools
import shutil

import duckdb
import numpy as np
import pytest

from pipelines.growth.zscores import compute_zscores
from pipelines.ingestion.incoming import landing_incoming
from pipelines.ingestion.land import land_submissions
from pipelines.parsing.parse import parse_batch_joined
from pipelines.parsing.pseudonym import Pseudonymiser
from pipelines.parsing.regions import RegionIndex
from pipelines.settings import BUNDLED_REGION_MASTER
from tests.paths import FIXTURES

FIX = FIXTURES / "sources" / "child_measurements"
FILES = {  # landing name <- fixture
    "36.04.15.2001_2024-08.csv": "eppgbm_bad_values.csv",
    "36.01.06.2002_2024-08.csv": "eppgbm_nik_as_typed.csv",
    "36.04.16.2002_2024-08.xlsx": "eppgbm_regency_numeric_nik.xlsx",
    "36.04.15.2003_2024-08.csv": "eppgbm_cp1252_comma.csv",
}


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    root = tmp_path_factory.mktemp("issue16")
    folder = root / "landing" / "child_measurements"
    folder.mkdir(parents=True)
    for name, fixture in FILES.items():
        shutil.copy2(FIX / fixture, folder / name)
    con = duckdb.connect(str(root / "w.duckdb"))
    parse = functools.partial(parse_batch_joined, pseudonymiser=Pseudonymiser(b"k"),
                              regions=RegionIndex.from_csv(BUNDLED_REGION_MASTER))
    report = land_submissions(con, landing_incoming(root / "landing"), parse, "run-16")
    assert (report.landed, report.values_nulled) == (4, 8)
    return con


def _by_file(con, sql: str) -> dict:
    return {r[0]: tuple(r[1:]) for r in con.execute(sql).fetchall()}


def test_rows_land_and_each_nulled_value_is_recorded_once(con):
    counts = _by_file(con, "select file_name, n_source_rows, n_rows_accepted, n_rows_rejected, n_values_nulled "
                           "from raw.submissions")
    assert counts["36.04.15.2001_2024-08.csv"] == (11, 10, 1, 8)
    assert counts["36.01.06.2002_2024-08.csv"] == (9, 9, 0, 0)
    recorded = con.execute(
        "select row_number, column_name, reason_code, original_value from quarantine.rejected_values "
        "where file_name = '36.04.15.2001_2024-08.csv' order by row_number").fetchall()
    assert recorded == [
        (2, "lenhei_cm", "missing_value", "0"), (3, "weight_kg", "weight_out_of_range", "250"),
        (4, "weight_kg", "weight_out_of_range", "-3"), (5, "weight_kg", "missing_value", None),
        (6, "measure_position", "missing_value", None), (7, "measure_position", "invalid_value", "Duduk"),
        (8, "lenhei_cm", "invalid_number", "8o"), (10, "birth_weight_kg", "out_of_range", "45")]
    # the quarantined row is in rejected_rows only, with both its faults
    assert con.execute("select row_number, reason_code from quarantine.rejected_rows order by all").fetchall() == [
        (11, "unknown_village"), (11, "weight_out_of_range")]
    # and the value really is null where it landed
    landed = con.execute("select r.row_number, v.column_name, case v.column_name when 'lenhei_cm' then r.lenhei_cm "
                         "when 'weight_kg' then r.weight_kg when 'birth_weight_kg' then r.birth_weight_kg end, "
                         "r.measure from quarantine.rejected_values v join raw.child_measurements r "
                         "using (submission_id, row_number)").fetchall()
    assert len(landed) == 8
    assert all((value is None) if column != "measure_position" else (measure is None)
               for _, column, value, measure in landed)


def test_a_zero_height_loses_height_based_scores_only(con):
    rows = con.execute(
        "select row_number, sex, date_diff('day', birth_date, measured_on), weight_kg, lenhei_cm, measure "
        "from raw.child_measurements where row_number in (2, 3, 6) and submission_id in "
        "(select submission_id from raw.submissions where file_name = '36.04.15.2001_2024-08.csv') "
        "order by row_number").fetchall()
    number, sex, age, weight, lenhei, measure = (np.array(c, dtype=object) for c in zip(*rows, strict=True))
    z = compute_zscores(sex.astype(float), age.astype(float), weight.astype(float), lenhei.astype(float),
                        [m or "" for m in measure])
    zero_height, bad_weight, no_position = z.iloc[0], z.iloc[1], z.iloc[2]
    assert np.isnan(zero_height["haz"]) and np.isnan(zero_height["whz"]) and np.isfinite(zero_height["waz"])
    assert np.isfinite(bad_weight["haz"]) and np.isnan(bad_weight["waz"]) and np.isnan(bad_weight["whz"])
    # an unknown position: scored as WHO anthro does (no 0.7 cm correction, the table by age)
    assert np.isfinite(no_position[["haz", "waz", "whz"]].astype(float)).all()


def test_untrusted_niks_are_counted_per_submission(con):
    untrusted = _by_file(con, "select file_name, n_nik_untrusted from raw.submissions")
    assert untrusted == {"36.04.15.2001_2024-08.csv": (0,), "36.01.06.2002_2024-08.csv": (2,),
                         "36.04.16.2002_2024-08.xlsx": (4,), "36.04.15.2003_2024-08.csv": (0,)}
    assert con.execute("select count(*) filter (where not nik_valid) from raw.child_measurements r join "
                       "raw.submissions s using (submission_id) where s.file_name like '%.xlsx'").fetchall() == [(4,)]


def test_parser_warnings_are_stored_per_submission(con):
    got = con.execute("select file_name, code, n_rows, run_id from raw.submission_warnings order by all").fetchall()
    assert got == [
        ("36.01.06.2002_2024-08.csv", "nik_fallback", 2, "run-16"),
        ("36.01.06.2002_2024-08.csv", "nik_untrusted", 2, "run-16"),
        ("36.04.15.2001_2024-08.csv", "unit_rescaled", 1, "run-16"),
        ("36.04.15.2003_2024-08.csv", "date_order_guessed", 2, "run-16"),
        ("36.04.15.2003_2024-08.csv", "encoding_fallback", None, "run-16"),
        ("36.04.16.2002_2024-08.xlsx", "nik_fallback", 4, "run-16"),
        ("36.04.16.2002_2024-08.xlsx", "nik_untrusted", 4, "run-16"),
    ]
    detail = con.execute("select detail from raw.submission_warnings where code = 'nik_untrusted' "
                         "and file_name like '%.xlsx'").fetchall()[0][0]
    assert "4 NIKs arrived as numbers" in detail and "3604" not in detail
