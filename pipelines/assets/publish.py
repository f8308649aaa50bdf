"""Publish: replace the BI-facing DuckDB file atomically once everything is built and checked."""


import contextlib
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, Failure, MaterializeResult, asset

from pipelines.publishing import lake
from pipelines.publishing.exports import discard_parquet, install_parquet, stage_marts_parquet
from pipelines.resources import WarehouseResource
from pipelines.settings import WAREHOUSE_POOL

PUBLISH_KEY = AssetKey(["publish", "warehouse_file"])
# Working files smaller than this have their Parquet exports written while they are copied.
CONCURRENT_EXPORT_BYTES = 2 * 1024**3
LAKE_KEY = AssetKey(["publish", "lake"])


def build_publish_asset(upstream: Iterable[AssetKey]) -> AssetsDefinition:
    """The publish step depends on every warehouse asset, so any failed blocking check upstream
    stops it and BI keeps the previous file."""

    @asset(key=PUBLISH_KEY, deps=sorted(upstream), group_name="publish", kinds={"duckdb"}, pool=WAREHOUSE_POOL)
    def publish_warehouse(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        """The published warehouse file (KONVERGENSI_WAREHOUSE) that BI tools read: a copy of the
        working database in the DuckDB 1.4 storage format, swapped in by one atomic rename. Dagster
        skips it when a blocking (ERROR) check or a step upstream failed in the same run: the run
        names them (`konvergensi run` prints `publish: NOT published …`) and BI keeps the previous file.
        With KONVERGENSI_LAKE_CATALOG set, publish/lake then sends the same version to the lake."""
        # The Parquet exports are written from the working file, and moved into place only once the
        # file is published: BI never sees exports newer than the file. Under CONCURRENT_EXPORT_BYTES
        # they are written while the file is copied (DuckDB works on both at once; the copy is the same
        # data): a Banten month's copy then exports took 1.75-1.89 s, together 1.52-1.55 s. A larger
        # file is copied first: two DuckDB instances at once each take up to their memory cap (a
        # national month's run peaked at 8.17 GB in this step with both, against 6.79 GB for the whole
        # run, in its ingestion, with one after the other).
        started = time.perf_counter()
        warehouse.release()  # the working file complete on disk for both readers
        together = warehouse.work_path.stat().st_size < CONCURRENT_EXPORT_BYTES
        with ThreadPoolExecutor(1, thread_name_prefix="parquet") as pool:
            staging = pool.submit(stage_marts_parquet, warehouse.work_path, warehouse.parquet_dir) if together else None
            try:
                figures = warehouse.publish()
            except BaseException:
                if staging is not None:
                    with contextlib.suppress(Exception):
                        discard_parquet(staging.result())
                raise
            staged = staging.result() if staging is not None else None
        exports = sorted(warehouse.parquet_dir.glob("*.parquet")) if warehouse.parquet_dir.is_dir() else []
        if figures["unchanged"] and exports:
            discard_parquet(staged or [])
            context.log.info(f"{figures['published_path']} already holds this warehouse; nothing to publish")
        else:
            if staged is None:
                staged = stage_marts_parquet(warehouse.work_path, warehouse.parquet_dir)
            figures.update(install_parquet(staged, warehouse.parquet_dir, started))
            context.log.info(f"published {figures['published_path']} ({figures['bytes']} bytes, {figures['seconds']} s)")
        return MaterializeResult(metadata=figures)

    return publish_warehouse


def build_lake_asset() -> AssetsDefinition:
    """publish/lake, in the graph when KONVERGENSI_LAKE_CATALOG is set: the published file's version
    sent to the DuckLake catalog as one snapshot, after the file and from it (write-audit-publish
    kept: the lake only gets what the file got). Its own step, so a lake that cannot be reached fails
    here by name while the file stays published."""

    @asset(key=LAKE_KEY, deps=[PUBLISH_KEY], group_name="publish", kinds={"duckdb", "postgres"})
    def publish_lake(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        """The DuckLake copy of the published warehouse (KONVERGENSI_LAKE_CATALOG, Parquet in
        KONVERGENSI_LAKE_DATA_PATH): one snapshot per published version, audited against the file
        inside its transaction; the same version again adds none, and a run after a failed one
        catches the lake up (pipelines/publishing/lake.py, docs/deploy.md)."""
        try:
            figures = lake.publish_in_lake_python(warehouse.published_path)
        except lake.LakeError as exc:
            raise Failure(description=f"{exc}. The file {warehouse.published_path} is published; the lake "
                                      "keeps its previous snapshot and catches up on the next run.") from None
        context.log.info(f"lake snapshot {figures['lake_snapshot']}{' (unchanged)' if figures['lake_unchanged'] else ''}")
        return MaterializeResult(metadata=figures)

    return publish_lake
