"""Monthly partitions: which months a run lands and rebuilds, backfills, reruns replacing exactly
their month, partitioned checks, and the schedule and sensors requesting the right months."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, build_schedule_context, build_sensor_context

from pipelines.partitions import MONTHLY
from pipelines.periods import (
    FIRST_MONTH,
    covering_periods,
    current_month,
    months_between,
    partition_for_period,
    period_months,
)

# --- pure rules ---------------------------------------------------------------------------------


def test_months_and_periods():
    assert months_between("2024-11", "2025-02") == ["2024-11", "2024-12", "2025-01", "2025-02"]
    assert period_months("2024-Q3") == ["2024-07", "2024-08", "2024-09"]
    assert period_months("2024")[0] == "2024-01" and len(period_months("2024")) == 12
    assert covering_periods(["2024-08"]) == {"2024-08", "2024-Q3", "2024"}
    with pytest.raises(ValueError, match="not a month"):
        months_between("2024-13", "2025-01")


def test_partition_of_a_period():
    now = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC)
    assert partition_for_period("2024-08", now) == "2024-08"
    assert partition_for_period("2024-Q3", now) == "2024-07"
    assert partition_for_period("2024", now) == "2024-01"
    assert partition_for_period("2026", now) == "2026-01"
    # no partition: before the first one, in the future, or no period at all
    assert partition_for_period("2019", now) is None
    assert partition_for_period("2027-01", now) is None
    assert partition_for_period(None, now) is None
    assert partition_for_period("garbage", now) is None


def test_the_month_is_the_month_in_western_indonesia():
    # 31 July 17:30 UTC is already 1 August 00:30 in Banten
    assert current_month(dt.datetime(2024, 7, 31, 17, 30, tzinfo=dt.UTC)) == "2024-08"
    assert current_month(dt.datetime(2024, 7, 31, 16, 59, tzinfo=dt.UTC)) == "2024-07"


def test_partitions_definition():
    keys = MONTHLY.get_partition_keys(current_time=dt.datetime(2024, 8, 15, tzinfo=dt.UTC))
    assert keys[0] == FIRST_MONTH and keys[-1] == "2024-08"  # the running month is a partition


# --- definitions --------------------------------------------------------------------------------

PARTITIONED = {
    ("raw", "child_measurements"), ("raw", "households"), ("raw", "submissions"),
    ("quarantine", "rejected_rows"), ("staging", "stg_child_measurements"), ("staging", "stg_child_zscores"),
    ("quarantine", "superseded_child_measurements"), ("marts", "fct_child_measurement"),
}


def test_partitioned_assets_and_their_checks():
    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    for path in PARTITIONED:
        assert graph.get(AssetKey(list(path))).partitions_def == MONTHLY, path
    for path in [("marts", "fct_stunting_prevalence"), ("marts", "mart_target_progress"), ("marts", "dim_region")]:
        assert graph.get(AssetKey(list(path))).partitions_def is None, path
    n_partitioned_checks = 0
    for check_key in graph.asset_check_keys:
        asset_partitions = graph.get(check_key.asset_key).partitions_def
        check_partitions = graph.get(check_key).partitions_def
        assert check_partitions == asset_partitions, f"{check_key} must be partitioned like its asset"
        n_partitioned_checks += check_partitions is not None
    assert n_partitioned_checks >= 10


def test_nightly_schedule_requests_the_current_month(tmp_path, isolated_env):
    from dagster import DagsterInstance

    from pipelines.definitions import defs
    from pipelines.schedules import nightly_schedule

    when = dt.datetime(2024, 9, 1, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))
    # The schedule reads the instance's runs (catch-up of failed months, tests/runs/test_catchup.py).
    with DagsterInstance.local_temp(str(tmp_path)) as instance:
        context = build_schedule_context(instance=instance, scheduled_execution_time=when,
                                         repository_def=defs.get_repository_def())
        requests = nightly_schedule.evaluate_tick(context).run_requests
    assert [r.partition_key for r in requests] == ["2024-09"]


def test_landing_sensor_requests_the_months_that_arrived(tmp_path, isolated_env):
    from pipelines.resources import LandingFolderResource
    from pipelines.sensors import landing_folder_sensor

    for rel in ["child_measurements/36.01.01.2001_2024-05.csv", "child_measurements/36.01.01.2001_2024-07.csv",
                "opd_programmes/DINKES_2024-Q3.json"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    ctx = build_sensor_context(resources={"landing": LandingFolderResource(path=str(tmp_path))})
    (request,) = landing_folder_sensor(ctx).run_requests
    assert request.tags["dagster/asset_partition_range_start"] == "2024-05"
    assert request.tags["dagster/asset_partition_range_end"] == "2024-07"


def test_landing_sensor_requests_every_month_for_a_file_whose_rows_tell_its_period(tmp_path, isolated_env):
    from pipelines.partitions import latest_month
    from pipelines.resources import LandingFolderResource
    from pipelines.sensors import landing_folder_sensor

    for rel in ["child_measurements/36.01.01.2001_2024-07.csv",
                "child_measurements/Data Pengukuran Balita Agustus 2024.csv",
                "child_measurements/36.01.01.2001_2024-08\x07.csv"]:  # refused outright: any run
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(rel.encode())
    ctx = build_sensor_context(resources={"landing": LandingFolderResource(path=str(tmp_path))})
    first = landing_folder_sensor(ctx)
    (request,) = first.run_requests
    assert request.tags["dagster/asset_partition_range_start"] == FIRST_MONTH
    assert request.tags["dagster/asset_partition_range_end"] == latest_month()
    assert request.tags["arrivals"] == "3"
    # the named July file alone asks for July only
    (tmp_path / "child_measurements" / "36.01.01.2001_2024-07.csv").write_bytes(b"changed")
    later = build_sensor_context(resources={"landing": LandingFolderResource(path=str(tmp_path))},
                                 cursor=first.cursor)
    (request,) = landing_folder_sensor(later).run_requests
    assert request.tags["dagster/asset_partition_range_start"] == "2024-07"
    assert request.tags["dagster/asset_partition_range_end"] == "2024-07"


# --- runs ---------------------------------------------------------------------------------------

VILLAGES = 24


@pytest.fixture(scope="module")
def landing_src(small_submissions) -> Path:
    """Two months of a few villages' measurements plus every regency and OPD report."""
    return small_submissions(7, VILLAGES)


def _env(monkeypatch, root: Path, src: Path, name: str) -> Path:
    """Point the environment at test warehouse ``name``, creating it (home, landing copy) once."""
    from pipelines import settings

    home = root / f"home_{name}"
    landing = root / f"landing_{name}"
    if not home.exists():
        home.mkdir()
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        shutil.copytree(src / "landing", landing)
    for var in settings.ENV_DEFAULTS:
        monkeypatch.setenv(var, "")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("KONVERGENSI_WAREHOUSE", str(root / f"wh_{name}" / "banten.duckdb"))
    monkeypatch.setenv("KONVERGENSI_LANDING_DIR", str(landing))
    monkeypatch.setenv("KONVERGENSI_REGION_MASTER", str(src / "region_master.csv"))
    monkeypatch.setenv("KONVERGENSI_PSEUDONYM_KEY", "partition-test-key-0123456789abcdef")
    return landing


def _run(start, end=None):
    from pipelines.runs.inprocess import run_pipeline

    summary = run_pipeline(start, end or start, quiet=True)
    assert summary.success, summary.render()
    return summary


def _work(root: Path, name: str) -> Path:
    return root / f"wh_{name}" / "work" / "banten.duckdb"


def _q(path: Path, sql: str):
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


TABLES = ["staging.stg_child_measurements", "staging.stg_child_zscores", "marts.fct_child_measurement",
          "marts.fct_stunting_prevalence", "marts.fct_opd_programme", "marts.fct_convergence_action_status"]


def _contents(path: Path) -> dict[str, list]:
    return {t: sorted(map(repr, _q(path, f"select * exclude (submission_id) from {t}")))
            if t.endswith(("measurements", "measurement")) else sorted(map(repr, _q(path, f"select * from {t}")))
            for t in TABLES}


@pytest.mark.slow
def test_backfill_and_rerun_replace_exactly_their_month(landing_src, tmp_path, monkeypatch):
    # A: the newest month first, then a backfill of the month before
    landing = _env(monkeypatch, tmp_path, landing_src, "a")
    _run("2024-08")
    work_a = _work(tmp_path, "a")
    assert _q(work_a, "select distinct period from staging.stg_child_measurements") == [("2024-08",)]
    landed = {p for (p,) in _q(work_a, "select distinct period from raw.submissions")}
    assert landed == {"2024-08", "2024-Q3", "2024"}  # its month, its quarter's and its year's reports
    _run("2024-07")
    assert _q(work_a, "select distinct period from staging.stg_child_measurements order by 1") == [
        ("2024-07",), ("2024-08",)]

    # B: both months in one run on a fresh warehouse gives the same tables
    monkeypatch.undo()
    _env(monkeypatch, tmp_path, landing_src, "b")
    _run("2024-07", "2024-08")
    assert _contents(work_a) == _contents(_work(tmp_path, "b"))

    # Rerunning July with a revised July file replaces July and leaves August's rows untouched
    monkeypatch.undo()
    _env(monkeypatch, tmp_path, landing_src, "a")
    with duckdb.connect(str(work_a)) as con:
        con.execute("update marts.fct_child_measurement set posyandu = 'UNTOUCHED' where period = '2024-08'")
        n_aug = con.execute("select count(*) from marts.fct_child_measurement where period = '2024-08'").fetchall()
    july = sorted((landing / "child_measurements").glob("*_2024-07.csv"))[0]
    lines = july.read_bytes().splitlines(keepends=True)
    revised = july.with_name(july.stem + "_revisi.csv")
    revised.write_bytes(b"".join(lines[:-1]))  # the revision drops the last child
    village = july.name.split("_")[0]
    _run("2024-07")
    staged_from = _q(work_a, f"""
        select s.file_name, count(*) from staging.stg_child_measurements m join raw.submissions s using (submission_id)
        where s.submitter_code = '{village}' and m.period = '2024-07' group by 1""")
    assert [name for name, _ in staged_from] == [revised.name]  # the revision replaced the file wholesale
    assert staged_from[0][1] <= len(lines) - 2  # header and the dropped row
    assert _q(work_a, "select count(*) from marts.fct_child_measurement "
                      "where period = '2024-08' and posyandu = 'UNTOUCHED'") == n_aug
    assert _q(work_a, "select count(*) from marts.fct_child_measurement "
                      "where period = '2024-07' and posyandu = 'UNTOUCHED'") == [(0,)]
    # the superseded version's rows are kept in quarantine, for July only
    assert _q(work_a, "select distinct period, reason_code from quarantine.superseded_child_measurements "
                      "where reason_code = 'superseded_version'") == [("2024-07", "superseded_version")]
