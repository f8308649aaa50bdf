"""Dagster sees skipped work: a table whose inputs did not change reports the same data version
(and `rebuilt: false`) instead of a new version of the same content; a changed input moves it."""

from __future__ import annotations

from dagster import DagsterInstance, materialize

from pipelines.assets.regions import raw_region_master
from pipelines.assets.sql import build_sql_assets
from pipelines.resources import RegionMasterResource, WarehouseResource
from pipelines.settings import BUNDLED_REGION_MASTER, SQL_DIR
from pipelines.sql_engine.models import discover_models


def _versions(result) -> dict[str, tuple[str, object]]:
    out = {}
    for event in result.get_asset_materialization_events():
        mat = event.materialization
        rebuilt = mat.metadata.get("rebuilt")
        out[mat.asset_key.to_user_string()] = (mat.tags["dagster/data_version"], rebuilt and rebuilt.value)
    return out


def test_unchanged_inputs_keep_the_data_version_changed_inputs_move_it(tmp_path):
    models = [m for m in discover_models(SQL_DIR) if m.table == "marts.dim_region"]
    assets, _ = build_sql_assets(models, {"raw.region_master": raw_region_master.key})
    warehouse = WarehouseResource(path=str(tmp_path / "w.duckdb"))
    small = tmp_path / "regions.csv"
    lines = BUNDLED_REGION_MASTER.read_text(encoding="utf-8").splitlines()
    small.write_text("\n".join(lines[:-5]) + "\n", encoding="utf-8")

    def run(master):
        with DagsterInstance.ephemeral() as instance:
            result = materialize([raw_region_master, *assets], instance=instance, resources={
                "warehouse": warehouse, "region_master": RegionMasterResource(path=str(master))})
            assert result.success
            return _versions(result)

    first = run(BUNDLED_REGION_MASTER)
    second = run(BUNDLED_REGION_MASTER)
    assert second["raw/region_master"][0] == first["raw/region_master"][0]
    assert second["marts/dim_region"] == (first["marts/dim_region"][0], False)  # kept, not rebuilt
    third = run(small)
    assert third["raw/region_master"][0] != first["raw/region_master"][0]
    assert third["marts/dim_region"][0] != first["marts/dim_region"][0] and third["marts/dim_region"][1] is True
