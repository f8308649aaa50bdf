"""The one Dagster entry point: assets, checks, jobs, schedules, sensors and resources."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job, in_process_executor

from pipelines.assets.catalog import with_table_metadata
from pipelines.assets.exclusions import set_aside_submission, submission_exclusions
from pipelines.assets.growth import stg_child_zscores, who_growth_lms
from pipelines.assets.ingest import ingest_submissions
from pipelines.assets.publish import build_lake_asset, build_publish_asset
from pipelines.assets.regions import raw_region_master, reference_run_date
from pipelines.assets.report import build_report_asset
from pipelines.assets.sql import build_sql_assets
from pipelines.checks.expectations import submissions_meet_expectations
from pipelines.checks.growth import export_zscores_agree_with_recomputed, who_tables_complete
from pipelines.checks.lineage import every_source_row_accounted_for
from pipelines.checks.quality import QUALITY_CHECKS
from pipelines.checks.refusals import every_file_lands_at_least_half_its_rows
from pipelines.publishing.lake import configured as lake_configured
from pipelines.quiet import CODE_TAG, current_code_version
from pipelines.resources import build_resources
from pipelines.schedules import nightly_schedule
from pipelines.sensors import landing_folder_sensor, portal_sensor, run_failure_alert
from pipelines.settings import SQL_DIR
from pipelines.sql_engine.models import discover_models
from pipelines.tables import TABLES

PYTHON_ASSETS = [
    raw_region_master, reference_run_date, ingest_submissions, submission_exclusions, who_growth_lms, stg_child_zscores,
]


MODELS = discover_models(SQL_DIR)
sql_assets, sql_checks = build_sql_assets(MODELS, {name: spec.key for name, spec in TABLES.items() if spec.is_asset})

# In-process: the multiprocess executor spends seconds per step starting Python, and every
# warehouse step is serialised through one DuckDB writer anyway (docs/operations.md).
nightly_job = define_asset_job(
    "nightly",
    selection=AssetSelection.all(),
    executor_def=in_process_executor,
    description="Pull new submissions, rebuild staging and marts, run the checks, publish.",
    # Run retries (dagster.yaml run_retries, done by the daemon): a failed run is started again from
    # its failed steps, at most twice. In-process runs (`konvergensi run`) are not retried.
    # The code version lets a quiet night see that nothing changed since the last success (pipelines/quiet.py).
    tags={"dagster/max_retries": "2", "dagster/retry_strategy": "FROM_FAILURE", CODE_TAG: current_code_version()},
)

_warehouse_assets = [*PYTHON_ASSETS, *sql_assets]
_warehouse_keys = [key for a in _warehouse_assets for key in a.keys]
publish_warehouse = build_publish_asset(_warehouse_keys)
quality_report = build_report_asset([k for k in _warehouse_keys if k.path[0] in ("marts", "quarantine")])

defs = Definitions(
    # Column schemas and code references, shown on each asset's page in the UI.
    # publish/lake only when a DuckLake catalog is configured (pipelines/publishing/lake.py).
    assets=with_table_metadata([*_warehouse_assets, publish_warehouse, quality_report,
                                *([build_lake_asset()] if lake_configured() else [])], MODELS),
    asset_checks=[
        *sql_checks, every_source_row_accounted_for, export_zscores_agree_with_recomputed, *QUALITY_CHECKS,
        submissions_meet_expectations, who_tables_complete, every_file_lands_at_least_half_its_rows,
    ],
    jobs=[nightly_job, set_aside_submission],
    schedules=[nightly_schedule],
    sensors=[landing_folder_sensor, portal_sensor, run_failure_alert],
    resources=build_resources(),
    # Any selection materialised from the UI runs like the nightly job: in one process.
    executor=in_process_executor,
)
