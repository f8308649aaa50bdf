"""Landing checkpoints once (pipelines.ingestion.pull): DuckDB's WAL threshold is raised while the
batches land, put back after, and the landed rows are in the file itself (the WAL checkpointed).
DuckDB runs on one thread while batches prepared on this machine land, on its own threads again
after (and throughout when a remote cluster prepares them)."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from pipelines import settings
from pipelines.ingestion import pull
from pipelines.ingestion.embedded import SCHEDULER_ENV
from pipelines.ingestion.pull import pull_submissions
from pipelines.parsing.pseudonym import Pseudonymiser
from pipelines.sql_engine.build_state import ensure as ensure_bookkeeping
from tests.paths import FIXTURES

KEY = b"checkpoint-test-key-0123456789abcdef"


def _warehouse(tmp_path):
    root = tmp_path / "landing" / "child_measurements"
    root.mkdir(parents=True)
    # An e-PPGBM export as a puskesmas names it: semicolons, decimal commas, a BOM.
    shutil.copyfile(FIXTURES / "sources" / "child_measurements" / "eppgbm_bom_semicolon.csv",
                    root / "36.04.15.2001_2024-08.csv")
    path = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(path))
    for schema in settings.SCHEMAS:
        con.execute(f"create schema if not exists {schema}")
    ensure_bookkeeping(con)
    con.execute(f"create table raw.region_master as select * from read_csv('{settings.BUNDLED_REGION_MASTER}', "
                "all_varchar=true)")
    return path, con


def test_landing_restores_the_threshold_and_leaves_no_wal(tmp_path):
    path, con = _warehouse(tmp_path)
    before = con.execute("select current_setting('checkpoint_threshold')").fetchone()[0]

    run = pull_submissions(con, "r1", None, Pseudonymiser(KEY), landing_root=tmp_path / "landing")

    assert run.transports["landing"].landed == 1
    assert con.execute("select current_setting('checkpoint_threshold')").fetchone()[0] == before
    wal = path.with_name(path.name + ".wal")
    assert not wal.exists() or wal.stat().st_size == 0
    assert con.execute("select count(*) from raw.child_measurements").fetchone()[0] > 0
    con.close()


@pytest.mark.parametrize("remote", [False, True])
def test_duckdb_lands_on_one_thread_beside_local_workers(tmp_path, monkeypatch, remote):
    _, con = _warehouse(tmp_path)
    con.execute("set threads = 2")
    if remote:  # only read by the landing's thread setting here: no batch is sent (land_all is wrapped)
        monkeypatch.setenv(SCHEDULER_ENV, "tcp://127.0.0.1:1")
    else:
        monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    seen = []
    land_all = pull._land_all

    def observed(con, *args, **kwargs):
        seen.append(con.execute("select current_setting('threads')").fetchone()[0])
        if not remote:
            land_all(con, *args, **kwargs)

    monkeypatch.setattr(pull, "_land_all", observed)
    pull_submissions(con, "r1", None, Pseudonymiser(KEY), landing_root=tmp_path / "landing")

    assert seen == [2 if remote else 1]
    assert con.execute("select current_setting('threads')").fetchone()[0] == 2
    con.close()
