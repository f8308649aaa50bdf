"""The report's section on values nulled and parser assumptions (pipelines/reports/parser_sections.py),
rendered from a warehouse that real fixture files were landed into by the real ingestion."""

from __future__ import annotations

import functools
import re
import shutil

import duckdb
import pytest

from pipelines.ingestion.incoming import landing_incoming
from pipelines.ingestion.land import land_submissions
from pipelines.parsing.parse import parse_batch_joined
from pipelines.parsing.pseudonym import Pseudonymiser
from pipelines.parsing.regions import RegionIndex
from pipelines.reports import build_quality_report
from pipelines.settings import BUNDLED_REGION_MASTER
from tests.paths import FIXTURES

FIX = FIXTURES / "sources" / "child_measurements"
FILES = {
    "36.04.15.2001_2024-08.csv": "eppgbm_bad_values.csv",
    "36.01.06.2002_2024-08.csv": "eppgbm_nik_as_typed.csv",
    "36.04.16.2002_2024-08.xlsx": "eppgbm_regency_numeric_nik.xlsx",
    "36.04.15.2003_2024-08.csv": "eppgbm_cp1252_comma.csv",
}
RUN = "run-16"


@pytest.fixture
def warehouse(tmp_path):
    landing = tmp_path / "landing" / "child_measurements"
    landing.mkdir(parents=True)
    for name, fixture in FILES.items():
        shutil.copy2(FIX / fixture, landing / name)
    path = tmp_path / "w.duckdb"
    parse = functools.partial(parse_batch_joined, pseudonymiser=Pseudonymiser(b"k"),
                              regions=RegionIndex.from_csv(BUNDLED_REGION_MASTER))
    with duckdb.connect(str(path)) as con:
        land_submissions(con, landing_incoming(tmp_path / "landing"), parse, RUN)
    return path


def _section(html: str) -> str:
    return html.split('<section id="parser">', 1)[1].split("</section>", 1)[0]


def _row(section: str, *cells: str) -> bool:
    """Whether some table row holds these cells in this order (numbers right-aligned or not)."""
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", section, re.S):
        values = [re.sub(r"<[^>]+>", "", td) for td in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
        if all(c in values for c in cells) and [values.index(c) for c in cells] == sorted(
                values.index(c) for c in cells):
            return True
    return False


def test_shows_values_nulled_by_reason_and_the_warnings_of_each_submission(warehouse, tmp_path):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        result = build_quality_report(con, tmp_path / "out", RUN)
    section = _section(result.html_path.read_text(encoding="utf-8"))
    assert _row(section, "child_measurements", "weight_kg", "weight_out_of_range", "2", "2", "1")
    assert _row(section, "child_measurements", "lenhei_cm", "missing_value", "1", "1", "1")
    assert _row(section, "child_measurements", "4", "8", "8")  # counted = recorded
    assert "NOT OK" not in section
    assert _row(section, "child_measurements", "nik_untrusted", "2", "2", "6")
    assert _row(section, "36.04.16.2002_2024-08.xlsx", "36.04.16.2002", "2024-08", "nik_untrusted", "4")
    assert _row(section, "36.04.15.2003_2024-08.csv", "36.04.15.2003", "2024-08", "encoding_fallback")
    assert "slash dates read as dmy" in section
    assert "Values nulled, rows kept: 8" in result.markdown
    assert "`nik_untrusted` (child_measurements): 2" in result.markdown
    # the values as read stay in the warehouse: the report shows counts only
    assert "Duduk" not in section and "8o" not in section


def test_a_nulled_value_without_its_record_is_not_ok(warehouse, tmp_path):
    with duckdb.connect(str(warehouse)) as con:
        con.execute("delete from quarantine.rejected_values where column_name = 'lenhei_cm'")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        result = build_quality_report(con, tmp_path / "out", None)
    section = _section(result.html_path.read_text(encoding="utf-8"))
    assert "NOT OK" in section and _row(section, "child_measurements", "4", "8", "6")
