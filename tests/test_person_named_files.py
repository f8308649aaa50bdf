"""Files as people name them, through the whole nightly job (issue 16): a landing folder holding
e-PPGBM exports named by a kecamatan, a regency and a posyandu, covering many villages, lands in a
partitioned run without one bad_file_name, and the marts hold their children: staging counts the
re-exported regency once, completeness counts the villages a wider file covers, and the data-quality
mart counts the stated age that disagrees with the dates and the date rejected from a wide file."""

from __future__ import annotations

import datetime as dt
import os
import shutil

import duckdb
import pytest

from pipelines import settings
from tests.paths import FIXTURES

SOURCES = FIXTURES / "sources" / "child_measurements"
DISTRICT = "Data Pengukuran Balita Agustus 2024.csv"  # Kec. Cikande, 4 villages, one row measured in July
REGENCY = "e-PPGBM Kab Pandeglang Agustus 2024.csv"  # 5 villages of 3 districts
REEXPORT = "laporan pandeglang agustus (perbaikan).csv"  # the same, one weight corrected, two days later
DAY_FIRST = "Pengukuran Posyandu Mawar 05-08-2024.csv"  # one village, d/m/yyyy
RECEIVED = dt.datetime(2024, 9, 3, 2, 0, tzinfo=dt.UTC)

pytestmark = pytest.mark.slow  # one whole run of the nightly job (about a minute)


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """The published warehouse after one run over 2024-08, and the run's summary."""
    from pipelines.runs.inprocess import run_pipeline

    root = tmp_path_factory.mktemp("person_named")
    (root / "home").mkdir()
    (root / "home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    landing = root / "landing" / "child_measurements"
    landing.mkdir(parents=True)
    for i, name in enumerate((DISTRICT, REGENCY, REEXPORT, DAY_FIRST)):
        shutil.copy(SOURCES / name, landing / name)
        when = (RECEIVED + dt.timedelta(days=2 if name == REEXPORT else 0, minutes=i)).timestamp()
        os.utime(landing / name, (when, when))
    with pytest.MonkeyPatch.context() as mp:
        for name in settings.ENV_DEFAULTS:
            mp.setenv(name, "")
        mp.setenv("DAGSTER_HOME", str(root / "home"))
        mp.setenv("KONVERGENSI_WAREHOUSE", str(root / "wh" / "banten.duckdb"))
        mp.setenv("KONVERGENSI_LANDING_DIR", str(root / "landing"))
        mp.setenv("KONVERGENSI_PSEUDONYM_KEY", "person-named-test-key-0123456789abcdef")
        summary = run_pipeline("2024-08", "2024-08", quiet=True)
        assert summary.success, summary.render()
        with duckdb.connect(str(root / "wh" / "work" / "banten.duckdb"), read_only=True) as con:
            yield con


def test_every_person_named_file_lands_under_what_its_rows_tell(published):
    assert published.execute("select count(*) from quarantine.rejected_files").fetchone() == (0,)
    rows = published.execute("select file_name, submitter_level, submitter_code, period, version "
                             "from raw.submissions order by file_name").fetchall()
    assert rows == [(DISTRICT, "district", "36.04.15", "2024-08", 1),
                    (DAY_FIRST, "village", "36.04.15.2001", "2024-08", 1),
                    (REGENCY, "regency", "36.01", "2024-08", 1),
                    (REEXPORT, "regency", "36.01", "2024-08", 2)]


def test_the_marts_hold_their_children_once(published):
    per_regency = dict(published.execute(
        "select left(village_code, 5), count(distinct child_id) from marts.fct_child_measurement group by 1"
    ).fetchall())
    # Cikande: 10 August rows (the July one rejected) + 4 of the posyandu file; Pandeglang: 5, the re-export
    # replacing the first export whole
    assert per_regency == {"36.04": 14, "36.01": 5}
    assert published.execute("select count(*) from marts.fct_child_measurement").fetchone() == (19,)
    assert published.execute("select count(*) from quarantine.superseded_child_measurements "
                             "where reason_code = 'superseded_version'").fetchone() == (5,)
    corrected = published.execute("select max(weight_kg) from marts.fct_child_measurement "
                                  "where village_code like '36.01.%'").fetchone()
    assert corrected == (11.4,)


def test_completeness_counts_the_villages_a_wider_file_covers(published):
    rows = dict(published.execute(
        "select submitter_code, submission_status || ' ' || coalesce(covering_submission_id is not null, false) "
        "from marts.mart_submission_completeness where stream = 'child_measurements' and period = '2024-08' "
        "and submitter_code in ('36.04.15.2004', '36.01.01.2002', '36.04.15.2001', '36.04.15.2007', '36.04.15', "
        "'36.01')").fetchall())
    assert rows == {
        "36.04.15.2004": "on_time true",  # Parigi: in the kecamatan file only
        "36.01.01.2002": "on_time true",  # Kertajaya: in the regency export
        "36.04.15.2001": "on_time false",  # Cikande: its own posyandu file counts as its own
        "36.04.15.2007": "missing false",  # Julang: in no file
        "36.04.15": "on_time false",  # the senders themselves, listed as unexpected
        "36.01": "on_time false",
    }


def test_data_quality_counts_the_disagreeing_age_and_the_july_row(published):
    koper = published.execute(
        "select n_export_age_disagrees, n_bad_dates from marts.fct_growth_data_quality "
        "where unit_level = 'village' and unit_key = '36.04.15.2005' and period = '2024-08'").fetchone()
    assert koper == (1, 1)  # "0 Tahun - 2 Bulan - 0 Hari" for a child of 17 months; a row measured in July
    others = published.execute(
        "select sum(n_export_age_disagrees) from marts.fct_growth_data_quality where unit_level = 'village'"
    ).fetchone()
    assert others == (1,)
