"""A refused file is never green: a P3KE register whose name and rows tell no year and a submission
that landed under half its rows make the WARN check fail, naming both, through the real nightly job on
a real landing folder; the publish still happens; the next run still warns until the file is renamed."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from dagster import AssetCheckSeverity, asset, materialize

from pipelines import tables
from pipelines.checks.refusals import every_file_lands_at_least_half_its_rows
from pipelines.resources import WarehouseResource
from tests.paths import FIXTURES
from tests.sites import check_evaluation, impossible_birth_dates, pipeline_site

CHECK = "every_file_lands_at_least_half_its_rows"
SOURCES = FIXTURES / "sources" / "child_measurements"
BAD_NAME = "P3KE Desa Cikande.csv"
THIN = "36.04.15.2001_2024-08.csv"


def write_landing(folder: Path) -> Path:
    """A landing folder with a good P3KE register under a name that tells no year (its rows cannot
    either), and a 4-row e-PPGBM export whose last 3 birth dates are impossible (a row without an
    age cannot be used; a bad weight alone would only null the weight)."""
    measurements = folder / "child_measurements"
    measurements.mkdir(parents=True)
    (folder / "households").mkdir()
    shutil.copy2(FIXTURES / "sources" / "households" / BAD_NAME, folder / "households" / BAD_NAME)
    lines = impossible_birth_dates(
        (SOURCES / "eppgbm_bom_semicolon.csv").read_text(encoding="utf-8-sig").splitlines()[:5], (2, 3, 4))
    (measurements / THIN).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def evaluation(run_id: str):
    return check_evaluation(run_id, CHECK)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Environment of one warehouse fed from :func:`write_landing`, kept for the module's tests."""
    root = tmp_path_factory.mktemp("refusals")
    with pipeline_site(root, KONVERGENSI_LANDING_DIR=write_landing(root / "landing"),
                       KONVERGENSI_PSEUDONYM_KEY="refusals-test-key-0123456789abcdef"):
        yield root


@pytest.fixture(scope="module")
def first_run(site):
    from pipelines.runs.inprocess import run_pipeline

    return run_pipeline("2024-08", "2024-08", quiet=True)


def test_a_refused_file_and_a_thin_submission_warn_and_the_run_still_publishes(site, first_run):
    assert first_run.success and first_run.n_errors == 0, first_run.render()
    ev = evaluation(first_run.run_id)
    assert not ev.passed and ev.severity == AssetCheckSeverity.WARN
    assert ev.description == "1 file refused, 1 submission landed under half its rows"
    meta = {k: getattr(v, "value", v) for k, v in ev.metadata.items()}
    assert meta["n_refused_files"] == meta["n_refused_this_run"] == 1
    assert meta["n_under_half"] == meta["n_under_half_this_run"] == 1
    assert BAD_NAME in meta["refused_files"] and "period_unknown" in meta["refused_files"]
    assert "rename it <village code>_<year>.csv, e.g. 36.04.15.2001_2024.csv" in meta["refused_files"]
    assert THIN in meta["under_half"] and "1 of 4 rows landed" in meta["under_half"]
    assert "invalid_date (3 rows)" in meta["under_half"]
    # non-blocking: the publish happened, with what did land (raw rows stay in the working file)
    published = site / "wh" / "banten.duckdb"
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.execute("select count(*) from marts.fct_child_measurement").fetchone() == (1,)
    with duckdb.connect(str(site / "wh" / "work" / "banten.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from raw.child_measurements").fetchone() == (1,)


@pytest.mark.slow
def test_tomorrow_still_warns_until_the_file_is_renamed(site, first_run):
    from pipelines.runs.inprocess import run_pipeline

    second = run_pipeline("2024-08", "2024-08", quiet=True)
    meta = {k: getattr(v, "value", v) for k, v in evaluation(second.run_id).metadata.items()}
    assert (meta["n_refused_files"], meta["n_refused_this_run"]) == (1, 0)  # not re-read, still listed
    assert BAD_NAME in meta["refused_files"]

    folder = site / "landing" / "households"
    (folder / BAD_NAME).rename(folder / "36.04.15.2001_2024.csv")
    third = run_pipeline("2024-08", "2024-08", quiet=True)
    meta = {k: getattr(v, "value", v) for k, v in evaluation(third.run_id).metadata.items()}
    assert meta["n_refused_files"] == 0 and meta["refused_files"] == "none"  # its content landed
    assert meta["n_under_half"] == 1  # until a corrected version replaces it


def test_passes_when_every_file_landed_at_least_half(tmp_path):
    @asset(key=tables.key("raw.submissions"))
    def submissions(warehouse: WarehouseResource):
        with warehouse.connect() as con:
            for name in ("raw.submissions", "quarantine.rejected_files", "quarantine.rejected_rows"):
                tables.create(con, name, replace=True)
            con.execute(
                "insert into raw.submissions (submission_id, stream, submitter_code, period, version, file_name, "
                "transport, ingested_at, run_id, content_sha256, status, n_source_rows, n_rows_accepted, "
                "n_rows_rejected) values "
                "('a', 'child_measurements', '36.04.15.2001', '2024-08', 1, 'a.csv', 'landing', now(), 'r0', 'h1', "
                "'accepted', 4, 2, 2), "  # exactly half: enough
                "('b', 'households', '36.04.15.2001', '2024', 1, 'b.csv', 'landing', now(), 'r0', 'h2', "
                "'accepted', 10, 10, 0)"
            )

    warehouse = WarehouseResource(path=str(tmp_path / "w.duckdb"))
    result = materialize([submissions, every_file_lands_at_least_half_its_rows], resources={"warehouse": warehouse})
    (ev,) = result.get_asset_check_evaluations()
    assert ev.passed and ev.severity == AssetCheckSeverity.WARN
    assert ev.metadata["refused_files"].value == "none" and ev.metadata["n_under_half"].value == 0
