"""Landing retention (KONVERGENSI_LANDING_ARCHIVE): once its rows are committed a landed file moves,
by one rename, to <landing>/_archive/<YYYY-MM>/<stream>/; a refused file stays for the operator; the
archive is invisible to the listing and the sensor; the same bytes dropped again never land twice.
With the default (keep) nothing in the landing folder moves."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from pathlib import Path

import duckdb
import pytest

from pipelines import settings
from pipelines.ingestion.archive import ARCHIVE_DIR, archive_path
from pipelines.ingestion.pull import pull_submissions
from pipelines.parsing.pseudonym import Pseudonymiser
from pipelines.sensors import landing_fingerprints
from pipelines.sql_engine.build_state import ensure as ensure_bookkeeping
from tests.paths import FIXTURES

KEY = b"archive-test-key-0123456789abcdef0123"
GOOD = "child_measurements/36.04.15.2001_2024-08.csv"
REFUSED = "households/P3KE Desa Cikande.csv"  # no year in its name or rows: refused period_unknown
OLD = time.time() - 3600


def _drop(root: Path, rel: str, source: Path, mtime: float = OLD) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, path)
    os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "landing"
    _drop(root, GOOD, FIXTURES / "sources" / "child_measurements" / "eppgbm_bom_semicolon.csv")
    _drop(root, REFUSED, FIXTURES / "sources" / "households" / "P3KE Desa Cikande.csv")
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    for schema in settings.SCHEMAS:
        con.execute(f"create schema if not exists {schema}")
    ensure_bookkeeping(con)
    con.execute(f"create table raw.region_master as select * from read_csv('{settings.BUNDLED_REGION_MASTER}', "
                "all_varchar=true)")
    yield root, con
    con.close()


def _pull(con, root: Path, archive: bool, run: str):
    return pull_submissions(con, run, None, Pseudonymiser(KEY), landing_root=root, archive=archive).transports["landing"]


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def _accepted(con) -> int:
    return con.execute("select count(*) from raw.submissions where status = 'accepted'").fetchall()[0][0]


def test_archive_moves_a_landed_file_and_leaves_a_refused_one(site):
    root, con = site
    month = f"{dt.datetime.now(dt.UTC):%Y-%m}"
    archived = f"{ARCHIVE_DIR}/{month}/{GOOD}"

    first = _pull(con, root, archive=True, run="r1")
    assert (first.landed, first.archived) == (1, 1)
    assert _files(root) == {REFUSED, archived}  # moved, same bytes; the refused file stays in sight
    assert con.execute("select reason_code from quarantine.rejected_files").fetchall() == [("period_unknown",)]
    assert set(landing_fingerprints(root, {})[0]) == {REFUSED}  # the sensor never lists the archive

    second = _pull(con, root, archive=True, run="r2")
    assert (second.landed, second.archived, _accepted(con)) == (0, 0, 1)
    assert con.execute("select count(*) from quarantine.rejected_files").fetchall() == [(1,)]

    # the same bytes dropped again, fresh mtime: read, known by their content hash, archived again
    _drop(root, GOOD, root / archived, mtime=time.time() - 120)
    third = _pull(con, root, archive=True, run="r3")
    # skipped as known: the re-dropped copy and the refusal already recorded
    assert (third.landed, third.skipped_known, third.archived, _accepted(con)) == (0, 2, 1, 1)
    assert _files(root) == {REFUSED, archived, archived.replace(".csv", ".1.csv")}


def test_keep_leaves_every_file_in_place(site):
    root, con = site
    before = _files(root)
    first = _pull(con, root, archive=False, run="r1")
    second = _pull(con, root, archive=False, run="r2")
    assert (first.landed, first.archived, second.landed, second.skipped_known) == (1, 0, 0, 2)
    assert _files(root) == before and not (root / ARCHIVE_DIR).exists()


def test_a_file_changed_after_it_landed_is_not_archived(site):
    from pipelines.ingestion.archive import archive_landed
    from pipelines.ingestion.fingerprints import FileStat

    root, con = site
    _pull(con, root, archive=False, run="r1")
    path = root / GOOD
    st = path.stat()
    path.write_bytes(path.read_bytes() + b"\n")  # replaced in place since it was fingerprinted
    listed = [FileStat(GOOD, st.st_size, st.st_mtime_ns)]
    assert archive_landed(con, root, listed, dt.datetime.now(dt.UTC)) == []
    assert path.exists()


def test_archive_path_never_overwrites(tmp_path):
    when = dt.datetime(2024, 9, 1, tzinfo=dt.UTC)
    first = archive_path(tmp_path, GOOD, when)
    assert first == tmp_path / ARCHIVE_DIR / "2024-09" / GOOD
    first.parent.mkdir(parents=True)
    first.write_text("x")
    assert archive_path(tmp_path, GOOD, when).name == "36.04.15.2001_2024-08.1.csv"


@pytest.mark.parametrize(("value", "expected"), [("", False), ("keep", False), ("archive", True), (" Archive ", True)])
def test_the_setting(monkeypatch, value, expected):
    monkeypatch.setenv("KONVERGENSI_LANDING_ARCHIVE", value)
    assert settings.landing_archive() is expected


def test_a_mistyped_setting_is_refused(monkeypatch):
    monkeypatch.setenv("KONVERGENSI_LANDING_ARCHIVE", "yes")
    with pytest.raises(ValueError, match="use 'keep'"):
        settings.landing_archive()
