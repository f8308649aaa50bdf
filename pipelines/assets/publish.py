"""Publish: replace the BI-facing DuckDB file atomically once every mart is built and checked."""

from __future__ import annotations

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset

from pipelines.resources import WarehouseResource
from pipelines.settings import SQL_DIR, WAREHOUSE_POOL


def _mart_keys() -> list[AssetKey]:
    return [AssetKey(["marts", p.stem]) for p in sorted((SQL_DIR / "marts").glob("*.sql"))]


@asset(
    key=AssetKey(["publish", "warehouse_file"]),
    deps=_mart_keys(),
    group_name="publish",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
)
def publish_warehouse(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    """The published warehouse file (KONVERGENSI_WAREHOUSE) that BI tools read: a copy of the
    working database in the DuckDB 1.4 storage format, swapped in by one atomic rename. Blocking
    checks upstream stop this step, so a failed check never reaches BI."""
    figures = warehouse.publish()
    context.log.info(f"published {figures['published_path']} ({figures['bytes']} bytes, {figures['seconds']} s)")
    return MaterializeResult(metadata=figures)
