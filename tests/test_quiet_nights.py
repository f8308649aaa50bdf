"""A quiet night starts no run: the nightly schedule skips, saying why, and `konvergensi run` exits at
once leaving the warehouse as it was; a new file, a new day or a failed month still run. Real runs
of the nightly job on a real landing folder, a real Dagster instance (pipelines/quiet.py)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time

import pytest
from dagster import DagsterInstance, RunRequest, SkipReason, build_schedule_context, job, op

from pipelines.definitions import defs
from pipelines.schedules import as_of_refresh_keys, nightly_schedule
from tests.paths import FIXTURES
from tests.sites import pipeline_site

MONTH = "2024-08"
EXPORT = (FIXTURES / "sources" / "child_measurements" / "eppgbm_bom_semicolon.csv").read_text(encoding="utf-8-sig")
KEY = "quiet-night-test-key-0123456789abcdef"
TOKEN = "quiet-night-portal-token"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A site after one successful run of August over a one-file landing folder (kept as a template)."""
    from pipelines import cli

    root = tmp_path_factory.mktemp("quiet")
    landing = root / "landing" / "child_measurements"
    landing.mkdir(parents=True)
    (landing / f"36.04.15.2001_{MONTH}.csv").write_text("\n".join(EXPORT.splitlines()[:4]) + "\n", encoding="utf-8")
    with pipeline_site(root, KONVERGENSI_LANDING_DIR=root / "landing", KONVERGENSI_PSEUDONYM_KEY=KEY):
        assert cli.main(["run", "--period", MONTH]) == 0
    return root


@pytest.fixture
def site(built, tmp_path):
    """A copy of the built site, to change freely (the landing folder keeps its mtimes)."""
    root = tmp_path / "site"
    shutil.copytree(built, root)
    with pipeline_site(root, KONVERGENSI_LANDING_DIR=root / "landing", KONVERGENSI_PSEUDONYM_KEY=KEY):
        yield root


def _tick(month: str = MONTH):
    when = dt.datetime.fromisoformat(f"{month}-20T01:00:00+07:00")
    with DagsterInstance.get() as instance:
        return nightly_schedule(build_schedule_context(instance=instance, scheduled_execution_time=when,
                                                       repository_def=defs.get_repository_def()))


def _files(root) -> dict[str, tuple[int, int]]:
    """Size and mtime of every file of the warehouse folder (published, working, notes)."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted((root / "wh").rglob("*")) if p.is_file() and p.name != ".run.lock"}


def _n_runs() -> int:
    with DagsterInstance.get() as instance:
        return len(instance.get_run_records())


def test_a_quiet_night_skips_the_schedule_and_says_why(site):
    skip = _tick()
    assert isinstance(skip, SkipReason)
    assert f"{MONTH}: nothing new since" in skip.skip_message and "warehouse unchanged" in skip.skip_message


def test_a_new_landing_file_starts_the_nightly_run(site):
    (site / "landing" / "child_measurements" / f"36.04.15.2002_{MONTH}.csv").write_text(
        EXPORT.splitlines()[0] + "\n" + EXPORT.splitlines()[4] + "\n", encoding="utf-8")
    (request,) = _tick()
    assert isinstance(request, RunRequest) and request.partition_key == MONTH
    assert "1 new or changed submission(s), e.g. landing:child_measurements/36.04.15.2002" in request.tags["konvergensi/why"]


def test_a_busy_night_reads_one_new_file_and_counts_the_others(site, monkeypatch):
    from pipelines.ingestion import incoming

    reads = []
    real_read = incoming.read_listed
    monkeypatch.setattr(incoming, "read_listed", lambda path, st: reads.append(path) or real_read(path, st))
    for village in ("2002", "2003", "2004"):
        (site / "landing" / "child_measurements" / f"36.04.15.{village}_{MONTH}.csv").write_text(
            EXPORT.splitlines()[0] + "\n" + EXPORT.splitlines()[4] + "\n", encoding="utf-8")
    (request,) = _tick()
    assert isinstance(request, RunRequest) and len(reads) == 1
    assert ("1 new or changed submission(s), e.g. landing:child_measurements/36.04.15.2002"
            in request.tags["konvergensi/why"]) and "and up to 2 more not read yet" in request.tags["konvergensi/why"]


def test_a_new_day_refreshes_only_the_date_dependent_marts(site, monkeypatch):
    monkeypatch.setenv("KONVERGENSI_AS_OF_DATE", "2031-01-02")
    (request,) = _tick()
    assert request.partition_key is None
    assert request.asset_selection == as_of_refresh_keys(defs.get_repository_def().asset_graph)
    assert {"/".join(k.path) for k in request.asset_selection} >= {
        "reference/run_date", "marts/fct_convergence_action_status", "publish/warehouse_file"}


def test_the_cli_on_a_new_day_runs_only_the_date_dependent_marts(site, monkeypatch, capsys):
    from pipelines import cli

    monkeypatch.setenv("KONVERGENSI_AS_OF_DATE", "2031-01-02")
    assert cli.main(["run", "--period", MONTH]) == 0
    captured = capsys.readouterr()
    assert "nothing new; the as-of date changed: refreshing only the marts that read it" in captured.err
    assert "publish: published" in captured.out
    with DagsterInstance.get() as instance:
        run = instance.get_runs(limit=1)[0]
        assert {"/".join(k.path) for k in run.asset_selection} == {
            "/".join(k.path) for k in as_of_refresh_keys(defs.get_repository_def().asset_graph)}
    # the next night of the same day is quiet again
    assert cli.main(["run", "--period", MONTH]) == 0
    assert "nothing new since" in capsys.readouterr().out


@op
def fails():
    raise RuntimeError("this run fails on purpose")


@job(name="nightly")
def failing_nightly():
    fails()


def test_catch_up_still_requests_failed_months_on_a_quiet_night(site):
    with DagsterInstance.get() as instance:
        failing_nightly.execute_in_process(instance=instance, tags={"dagster/partition": "2024-05"},
                                           raise_on_error=False)
    requests = _tick()
    assert [(r.partition_key, r.tags.get("konvergensi/catch_up")) for r in requests] == [("2024-05", "true")]


def test_the_cli_on_a_quiet_night_exits_at_once_and_leaves_the_warehouse_as_it_was(site, capsys):
    from pipelines import cli

    before, runs = _files(site), _n_runs()
    started = time.perf_counter()
    assert cli.main(["run", "--period", MONTH]) == 0
    took = time.perf_counter() - started
    out = capsys.readouterr().out
    assert f"konvergensi run: {MONTH}: nothing new since" in out and "no run started (--force runs anyway)" in out
    assert _files(site) == before and _n_runs() == runs
    assert took < 10, f"a quiet night took {took:.1f} s"

    # --force runs anyway: a real run, which finds the warehouse unchanged
    assert cli.main(["run", "--period", MONTH, "--force"]) == 0
    assert "publish: unchanged" in capsys.readouterr().out and _n_runs() == runs + 1


def test_a_set_aside_decision_is_not_a_quiet_night(site, capsys):
    import duckdb

    from pipelines import cli

    with duckdb.connect(str(site / "wh" / "work" / "banten.duckdb"), read_only=True) as con:
        (sid,) = con.execute("select submission_id from raw.submissions").fetchall()[0]
    assert cli.main(["set-aside", sid, "--operator", "test", "--reason", "wrong village"]) == 0
    capsys.readouterr()
    skip = _tick()
    assert isinstance(skip, list) and "the working warehouse changed since it was published" in skip[0].tags["konvergensi/why"]


def test_a_sensor_without_a_cursor_starts_from_what_ingestion_already_read(site):
    from dagster import build_sensor_context

    from pipelines.resources import LandingFolderResource
    from pipelines.sensors import landing_folder_sensor

    landing = LandingFolderResource(path=str(site / "landing"))
    first = landing_folder_sensor(build_sensor_context(resources={"landing": landing}))
    assert not first.run_requests and first.skip_reason
    assert list(json.loads(first.cursor)) == [f"child_measurements/36.04.15.2001_{MONTH}.csv"]


@pytest.fixture
def portal_site(tmp_path):
    """A site whose one file came from the reference portal on loopback (no landing folder)."""
    from pipelines import cli
    from pipelines.synthetic.portal_server import make_server

    served = tmp_path / "portal" / "child_measurements"
    served.mkdir(parents=True)
    (served / f"36.04.15.2001_{MONTH}.csv").write_text("\n".join(EXPORT.splitlines()[:4]) + "\n", encoding="utf-8")
    server = make_server(tmp_path / "portal", port=0, token=TOKEN).start_in_thread()
    try:
        with pipeline_site(tmp_path, KONVERGENSI_PORTAL_URL=server.base_url, KONVERGENSI_PORTAL_TOKEN=TOKEN,
                           KONVERGENSI_PSEUDONYM_KEY=KEY):
            assert cli.main(["run", "--period", MONTH]) == 0
            yield served
    finally:
        server.stop()


def test_the_portal_listing_decides_too(portal_site):
    from dagster import build_sensor_context

    from pipelines.resources import PortalResource
    from pipelines.sensors import portal_sensor

    assert isinstance(_tick(), SkipReason)
    # a sensor without a cursor lists everything: all of it already landed, so no run
    portal = PortalResource(url=os.environ["KONVERGENSI_PORTAL_URL"], token=TOKEN)
    first = portal_sensor(build_sensor_context(resources={"portal": portal}))
    assert not first.run_requests and "all already landed" in first.skip_reason.skip_message

    (portal_site / f"36.04.15.2002_{MONTH}.csv").write_text(
        EXPORT.splitlines()[0] + "\n" + EXPORT.splitlines()[4] + "\n", encoding="utf-8")
    (request,) = _tick()
    assert "portal:child_measurements/36.04.15.2002" in request.tags["konvergensi/why"]
    (sensed,) = portal_sensor(build_sensor_context(resources={"portal": portal})).run_requests
    assert sensed.tags["arrivals"] == "1"
