"""Region master → marts.dim_region with the full hierarchy."""

import duckdb
import pytest
from dagster import materialize

from pipelines.assets.regions import raw_region_master, read_region_master
from pipelines.assets.sql import build_sql_assets
from pipelines.resources import RegionMasterResource, WarehouseResource
from pipelines.settings import BUNDLED_REGION_MASTER, SQL_DIR
from pipelines.sql_engine.models import discover_models


def _build_dim_region(tmp_path, master_path):
    models = [m for m in discover_models(SQL_DIR) if m.table == "marts.dim_region"]
    assets, checks = build_sql_assets(models, {"raw.region_master": raw_region_master.key})
    warehouse = WarehouseResource(path=str(tmp_path / "w.duckdb"))
    result = materialize(
        [raw_region_master, *assets, *checks],
        resources={"warehouse": warehouse, "region_master": RegionMasterResource(path=str(master_path))},
    )
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())
    return duckdb.connect(str(warehouse.work_path), read_only=True)


def _assert_official_counts(con):
    counts = dict(con.execute("select region_level, count(*) from marts.dim_region group by 1").fetchall())
    assert counts == {"province": 1, "regency": 8, "district": 155, "village": 1552}
    types = dict(con.execute(
        "select village_type, count(*) from marts.dim_region where region_level = 'village' group by 1"
    ).fetchall())
    assert types == {"desa": 1238, "kelurahan": 314}
    # Kab. Serang has no kelurahan; every village of the four cities is a kelurahan
    assert con.execute(
        "select count(*) from marts.dim_region where regency_code = '36.04' and village_type = 'kelurahan'"
    ).fetchone()[0] == 0
    assert con.execute(
        "select count(*) from marts.dim_region where is_city and village_type = 'desa'"
    ).fetchone()[0] == 0
    row = con.execute(
        "select regency_name, district_name from marts.dim_region where region_code = '36.01.01.2001'"
    ).fetchone()
    assert row == ("Kabupaten Pandeglang", "Sumur")


def test_official_region_master_from_shared(tmp_path, shared_dir):
    con = _build_dim_region(tmp_path, shared_dir / "reference" / "banten_regions.csv")
    _assert_official_counts(con)


def test_bundled_copy_is_the_official_file(tmp_path):
    con = _build_dim_region(tmp_path, BUNDLED_REGION_MASTER)
    _assert_official_counts(con)


def test_bad_master_names_the_problem(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("code,level,name\n36,province,Banten\n")
    with pytest.raises(ValueError, match="lacks columns parent_code"):
        read_region_master(bad)
    bad.write_text("code,level,name,parent_code\n36,province,Banten,\n36.01.01,regency,X,36\n")
    with pytest.raises(ValueError, match="do not match their level"):
        read_region_master(bad)
