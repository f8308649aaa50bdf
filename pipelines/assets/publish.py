"""Publish: replace the BI-facing DuckDB file atomically once everything is built and checked."""


from collections.abc import Iterable

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, MaterializeResult, asset

from pipelines.publishing.exports import export_marts_parquet
from pipelines.resources import WarehouseResource
from pipelines.settings import WAREHOUSE_POOL

PUBLISH_KEY = AssetKey(["publish", "warehouse_file"])


def build_publish_asset(upstream: Iterable[AssetKey]) -> AssetsDefinition:
    """The publish step depends on every warehouse asset, so any failed blocking check upstream
    stops it and BI keeps the previous file."""

    @asset(key=PUBLISH_KEY, deps=sorted(upstream), group_name="publish", kinds={"duckdb"}, pool=WAREHOUSE_POOL)
    def publish_warehouse(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        """The published warehouse file (KONVERGENSI_WAREHOUSE) that BI tools read: a copy of the
        working database in the DuckDB 1.4 storage format, swapped in by one atomic rename. Dagster
        skips it when a blocking (ERROR) check or a step upstream failed in the same run: the run
        names them (`konvergensi run` prints `publish: NOT published …`) and BI keeps the previous file."""
        figures = warehouse.publish()
        exports = sorted(warehouse.parquet_dir.glob("*.parquet")) if warehouse.parquet_dir.is_dir() else []
        if figures["unchanged"] and exports:
            context.log.info(f"{figures['published_path']} already holds this warehouse; nothing to publish")
        else:
            figures.update(export_marts_parquet(warehouse.published_path, warehouse.parquet_dir))
            context.log.info(f"published {figures['published_path']} ({figures['bytes']} bytes, {figures['seconds']} s)")
        return MaterializeResult(metadata=figures)

    return publish_warehouse
