"""The WHO reference table check blocks when the table is incomplete."""

from dagster import AssetKey, asset, materialize

from pipelines.checks.growth import who_tables_complete
from pipelines.growth import load_into_duckdb
from pipelines.resources import WarehouseResource


def _run(tmp_path, drop_wfh: bool):
    @asset(key=AssetKey(["reference", "who_growth_lms"]))
    def who(warehouse: WarehouseResource):
        with warehouse.connect() as con:
            load_into_duckdb(con, "reference.who_growth_lms")
            if drop_wfh:
                con.execute("delete from reference.who_growth_lms where indicator = 'wfh' and sex = 2")

    warehouse = WarehouseResource(path=str(tmp_path / f"w{drop_wfh}.duckdb"))
    result = materialize([who, who_tables_complete], resources={"warehouse": warehouse}, raise_on_error=False)
    return result.get_asset_check_evaluations()[0]


def test_complete_table_passes(tmp_path):
    assert _run(tmp_path, drop_wfh=False).passed


def test_missing_indicator_blocks(tmp_path):
    evaluation = _run(tmp_path, drop_wfh=True)
    assert not evaluation.passed
    assert "wfh/sex 2: 0 of 551" in evaluation.metadata["incomplete"].value
