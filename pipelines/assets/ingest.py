"""Ingestion: every new submission from the portal and the landing folder lands in ``raw``."""


import dagster as dg
from dagster import AssetSpec, DataVersion, MaterializeResult, multi_asset

from pipelines import tables
from pipelines.partitions import MONTHLY, SINGLE_RUN, context_months
from pipelines.resources import (
    LandingFolderResource,
    PortalResource,
    PseudonymResource,
    WarehouseResource,
)
from pipelines.settings import WAREHOUSE_POOL


@multi_asset(
    specs=[
        AssetSpec(spec.key, description=spec.description, group_name=spec.key.path[0], kinds={"duckdb"},
                  deps=[tables.key("raw.region_master")] if name in tables.RAW_STREAM_TABLES.values() else [])
        for name, spec in ((n, tables.TABLES[n]) for n in tables.INGESTION_TABLES)
    ],
    pool=WAREHOUSE_POOL,
    name="ingest_submissions",
    partitions_def=MONTHLY,
    backfill_policy=SINGLE_RUN,
)
def ingest_submissions(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    landing: LandingFolderResource,
    portal: PortalResource,
    pseudonym: PseudonymResource,
):
    """Pull new submissions from the portal and the landing folder and land them in raw: those
    whose reporting period covers the run's months (see pipelines/periods.py)."""
    from pipelines.ingestion.embedded import warm_up
    from pipelines.ingestion.keys import PseudonymKeyError
    from pipelines.ingestion.pull import pull_submissions
    from pipelines.settings import ingest_workers, landing_archive

    warm_up()  # started already when `konvergensi run` runs this; in the UI's run worker, now
    months = context_months(context)
    try:
        pseudonymiser = pseudonym.pseudonymiser()
        with warehouse.connect() as con:
            run = pull_submissions(
                con, context.run_id, set(months) if months is not None else None, pseudonymiser,
                landing_root=landing.root if landing.configured else None,
                portal_client=portal.client() if portal.configured else None, workers=ingest_workers(),
                archive=landing_archive(),
            )
    except PseudonymKeyError as exc:
        # An operator's configuration error: the UI shows this sentence as the step's failure,
        # not a traceback, and a retry would not help.
        raise dg.Failure(description=str(exc), allow_retries=False) from exc
    if not run.transports:
        context.log.warning("Neither KONVERGENSI_PORTAL_URL nor KONVERGENSI_LANDING_DIR is set: nothing to pull.")
    for transport, rep in run.transports.items():
        # Files not read this run (still being written, or deleted before the read) warn.
        log = context.log.warning if rep.not_ready or rep.vanished else context.log.info
        log(f"{transport}: {rep.summary()}")
    if run.errors:
        raise dg.Failure(
            description=f"{len(run.errors)} pull(s) failed; everything else landed. First: {run.errors[0]}",
            metadata={"errors": "\n".join(run.errors[:20])},
        )
    for name in tables.INGESTION_TABLES:
        # Append-only tables: the version is the row count, unchanged when nothing landed.
        yield MaterializeResult(asset_key=tables.key(name), data_version=DataVersion(run.versions[name]),
                                metadata=run.metadata(name))
