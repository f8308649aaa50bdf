"""The one Dagster entry point: assets, checks, jobs, schedules, sensors and resources."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job, in_process_executor

from pipelines.assets.ingest import ingest_submissions
from pipelines.assets.publish import publish_warehouse
from pipelines.assets.regions import raw_region_master
from pipelines.assets.sql import build_sql_assets
from pipelines.resources import build_resources
from pipelines.settings import SQL_DIR
from pipelines.sql_models import discover_models

PYTHON_ASSETS = [raw_region_master, ingest_submissions]


def _python_tables() -> dict:
    tables = {}
    for a in PYTHON_ASSETS:
        for key in a.keys:
            tables[".".join(key.path)] = key
    return tables


sql_assets, sql_checks = build_sql_assets(discover_models(SQL_DIR), _python_tables())

# In-process: the multiprocess executor spends seconds per step starting Python, and every
# warehouse step is serialised through one DuckDB writer anyway (docs/operations.md).
nightly_job = define_asset_job(
    "nightly",
    selection=AssetSelection.all(),
    executor_def=in_process_executor,
    description="Pull new submissions, rebuild staging and marts, run the checks, publish.",
)

defs = Definitions(
    assets=[*PYTHON_ASSETS, *sql_assets, publish_warehouse],
    asset_checks=sql_checks,
    jobs=[nightly_job],
    resources=build_resources(),
)
