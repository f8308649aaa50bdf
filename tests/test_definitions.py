"""The one Definitions object loads, and the asset graph is the data flow."""

import subprocess
import sys
from pathlib import Path

from dagster import AssetKey

from tests.paths import ROOT_DIR

ROOT = ROOT_DIR


def test_definitions_load_and_graph_is_wired():
    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = {"/".join(k.path) for k in graph.get_all_asset_keys()}
    for expected in [
        "raw/region_master", "raw/submissions", "raw/child_measurements", "raw/households",
        "quarantine/rejected_rows", "quarantine/rejected_files", "reference/who_growth_lms",
        "staging/stg_submissions", "staging/stg_child_measurements", "staging/stg_child_zscores",
        "marts/dim_region", "marts/fct_child_measurement", "publish/warehouse_file",
    ]:
        assert expected in keys, expected
    parents = graph.get(AssetKey(["staging", "stg_child_measurements"])).parent_keys
    assert parents == {AssetKey(["raw", "child_measurements"]), AssetKey(["staging", "stg_submissions"])}
    fct = graph.get(AssetKey(["marts", "fct_child_measurement"])).parent_keys
    assert fct == {AssetKey(["staging", "stg_child_measurements"]), AssetKey(["staging", "stg_child_zscores"])}
    # publish waits for everything, so a failed blocking check anywhere stops it
    publish_parents = graph.get(AssetKey(["publish", "warehouse_file"])).parent_keys
    assert AssetKey(["marts", "fct_child_measurement"]) in publish_parents
    assert defs.resolve_job_def("nightly") is not None


def test_every_sql_model_is_an_asset_named_like_its_file():
    from pipelines.definitions import defs

    keys = {tuple(k.path) for k in defs.resolve_asset_graph().get_all_asset_keys()}
    for sql in (ROOT / "dbt_like_sql").glob("*/*.sql"):
        assert (sql.parent.name, sql.stem) in keys


def test_dagster_definitions_validate_cli(tmp_path):
    env = {"PATH": str(Path(sys.executable).parent), "DAGSTER_HOME": str(tmp_path), "HOME": str(tmp_path)}
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
