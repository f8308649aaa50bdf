"""Setting a submission aside, end to end through the real nightly job on a real landing folder: a
mostly unparseable e-PPGBM export stops the publish; the operator finds its id in the failed
check's metadata and sets it aside (command line); the next run publishes the rest, with the
submission shown as set aside; re-including it (the UI job) blocks the publish again. The landing
folder archives what landed (KONVERGENSI_LANDING_ARCHIVE=archive), which changes none of this."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance

from tests.paths import FIXTURES
from tests.sites import check_evaluation, impossible_birth_dates, pipeline_site

CHECK = "no_submission_mostly_unparseable"
SOURCE = FIXTURES / "sources" / "child_measurements" / "eppgbm_bom_semicolon.csv"
GOOD, GARBLED = "36.04.15.2001_2024-08.csv", "36.04.15.2002_2024-08.csv"
KEY = "set-aside-e2e-test-key-0123456789abcdef"


def write_landing(folder: Path) -> Path:
    """Two e-PPGBM exports: a good one, and one whose birth dates are impossible in 15 of 21 rows
    (a row without an age cannot be used), over the 50 % a blocking check allows."""
    measurements = folder / "child_measurements"
    measurements.mkdir(parents=True)
    shutil.copy2(SOURCE, measurements / GOOD)
    lines = impossible_birth_dates(SOURCE.read_text(encoding="utf-8-sig").splitlines(), range(1, 16))
    (measurements / GARBLED).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder




@pytest.mark.slow
def test_set_aside_lets_the_rest_publish_and_reinclude_blocks_again(tmp_path):
    from pipelines.cli import main
    from pipelines.definitions import defs
    from pipelines.runs.inprocess import run_pipeline

    with pipeline_site(tmp_path, KONVERGENSI_LANDING_DIR=write_landing(tmp_path / "landing"),
                       KONVERGENSI_PSEUDONYM_KEY=KEY, KONVERGENSI_LANDING_SETTLE_SECONDS=0,
                       KONVERGENSI_LANDING_ARCHIVE="archive"):
        published = tmp_path / "wh" / "banten.duckdb"
        work = tmp_path / "wh" / "work" / "banten.duckdb"

        blocked = run_pipeline("2024-08", "2024-08", quiet=True)
        ev = check_evaluation(blocked.run_id, CHECK)
        assert not ev.passed and blocked.n_errors >= 1
        assert not published.exists()  # nothing was ever published
        listed = ev.metadata["submissions"].value
        assert GARBLED in listed and GOOD not in listed
        (garbled_id,) = re.findall(r"\(submission `([^`]+)`\)", listed)  # the runbook: the id is in the metadata
        # both files landed (accepted), so the nightly job archived them: the stream folder is empty
        archived = {p.name for p in (tmp_path / "landing" / "_archive").rglob("*.csv")}
        assert archived == {GOOD, GARBLED} and not list((tmp_path / "landing" / "child_measurements").iterdir())

        assert main(["set-aside", garbled_id, "--reason", "15 of 21 birth dates impossible",
                     "--operator", "Rina (Bappeda)"]) == 0
        assert main(["set-aside", garbled_id, "--reason", "again", "--operator", "Rina"]) == 2  # already

        freed = run_pipeline("2024-08", "2024-08", quiet=True)
        assert freed.success and freed.n_errors == 0, freed.render()
        assert check_evaluation(freed.run_id, CHECK).passed
        assert published.exists()
        with duckdb.connect(str(published), read_only=True) as con:
            status = dict(con.execute(
                "select submitter_code, submission_status from marts.mart_submission_completeness "
                "where submitter_code in ('36.04.15.2001', '36.04.15.2002')").fetchall())
            assert status["36.04.15.2002"] == "set_aside" and status["36.04.15.2001"] in ("on_time", "late")
            in_facts = {r[0] for r in con.execute(
                "select distinct submission_id from marts.fct_child_measurement").fetchall()}
            assert garbled_id not in in_facts and in_facts
        with duckdb.connect(str(work), read_only=True) as con:
            # raw stays append-only: the set-aside rows are still there, kept as set_aside, none staged
            (landed,) = con.execute("select count(*) from raw.child_measurements where submission_id = ?",
                                    [garbled_id]).fetchone()
            assert landed > 0
            assert con.execute("select count(*) from quarantine.superseded_child_measurements "
                               "where submission_id = ? and reason_code = 'set_aside'", [garbled_id]).fetchone() == (landed,)
            assert con.execute("select count(*) from staging.stg_child_measurements where submission_id = ?",
                               [garbled_id]).fetchone() == (0,)
        report = (tmp_path / "wh" / "reports" / "latest.html").read_text(encoding="utf-8")
        section = report.split('<section id="set_aside">', 1)[1].split("</section>", 1)[0]
        assert garbled_id in section and "15 of 21 birth dates impossible" in section
        before = published.stat().st_mtime_ns

        # the UI path: the set_aside_submission job with run config, through the same function
        undo = defs.resolve_job_def("set_aside_submission").execute_in_process(
            run_config={"ops": {"record_set_aside_decision": {"config": {
                "submission_id": garbled_id, "reason": "puskesmas confirms the dates", "operator": "Budi",
                "undo": True}}}},
            instance=DagsterInstance.get(),
        )
        assert undo.success
        blocked_again = run_pipeline("2024-08", "2024-08", quiet=True)
        assert not check_evaluation(blocked_again.run_id, CHECK).passed
        assert published.stat().st_mtime_ns == before  # BI keeps the last good file
        with duckdb.connect(str(work), read_only=True) as con:
            assert con.execute("select action, operator from raw.submission_exclusions order by decided_at"
                               ).fetchall() == [("set_aside", "Rina (Bappeda)"), ("reinclude", "Budi")]
