"""Ingestion: every new submission from the portal and the landing folder lands in ``raw``."""


import dagster as dg
from dagster import AssetSpec, DataVersion, MaterializeResult, multi_asset

from pipelines import tables
from pipelines.ingestion.land import land_submissions, landing_incoming, portal_incoming
from pipelines.partitions import MONTHLY, SINGLE_RUN, context_months
from pipelines.resources import (
    LandingFolderResource,
    PortalResource,
    PseudonymResource,
    WarehouseResource,
)
from pipelines.settings import PORTAL_LOOKBACK, WAREHOUSE_POOL
from pipelines.sql_engine import build_state


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
    import functools

    from pipelines.parsing.parse import parse_batch_joined
    from pipelines.parsing.regions import RegionIndex
    from pipelines.settings import ingest_workers

    pseudonymiser = pseudonym.pseudonymiser()
    months = context_months(context)
    months = set(months) if months is not None else None
    with warehouse.connect() as con:
        tables.ensure_all(con, tables.INGESTION_TABLES)
        regions = RegionIndex.from_frame(con.execute("select * from raw.region_master").df())

        parse = functools.partial(parse_batch_joined, pseudonymiser=pseudonymiser, regions=regions)

        from pipelines.ingestion.validation.runner import preload
        from pipelines.ingestion.validation.runner import validate_submissions as validate

        workers = ingest_workers()

        reports = {}
        errors = []
        if portal.configured:
            from pipelines.ingestion.portal import PortalError

            since = con.execute(
                "select max(received_at) from raw.submissions where transport = 'portal'"
            ).fetchall()[0][0]
            # Listing re-reads a window before the last pull: a file the portal dates earlier
            # than it publishes is still seen; ids already landed cost no download.
            updated_since = (since - PORTAL_LOOKBACK).isoformat() + "Z" if since else None
            try:
                reports["portal"] = land_submissions(
                    con, portal_incoming(portal.client(), updated_since=updated_since), parse,
                    context.run_id, months, validate=validate, workers=workers, before_fork=preload,
                )
            except PortalError as exc:
                errors.append(f"portal: {exc}")
        if landing.configured:
            reports["landing"] = land_submissions(
                con, landing_incoming(landing.root), parse, context.run_id, months, validate=validate,
                workers=workers, before_fork=preload,
            )
        if not reports:
            context.log.warning("Neither KONVERGENSI_PORTAL_URL nor KONVERGENSI_LANDING_DIR is set: nothing to pull.")
        counts = dict(
            con.execute("select stream, count(*) from raw.submissions group by stream").fetchall()
        )
        n_rej_rows = con.execute("select count(*) from quarantine.rejected_rows").fetchall()[0][0]
        n_rej_files = con.execute("select count(*) from quarantine.rejected_files").fetchall()[0][0]
        n_validated = con.execute(
            "select count(*) from raw.submission_validation where run_id = ?", [context.run_id]
        ).fetchall()[0][0]
        versions = {name: DataVersion(build_state.table_version(con, name)) for name in tables.INGESTION_TABLES}
    errors += [e for r in reports.values() for e in r.errors]
    for transport, rep in reports.items():
        context.log.info(
            f"{transport}: landed {rep.landed}, already known {rep.skipped_known}, "
            f"rejected files {rep.rejected_files}, rows accepted {rep.rows_accepted}, rows rejected {rep.rows_rejected}"
        )
    if errors:
        raise dg.Failure(
            description=f"{len(errors)} pull(s) failed; everything else landed. First: {errors[0]}",
            metadata={"errors": "\n".join(errors[:20])},
        )
    for stream, name in tables.RAW_STREAM_TABLES.items():
        per = {t: r.by_stream.get(stream, {}) for t, r in reports.items()}
        yield MaterializeResult(
            asset_key=tables.key(name),
            data_version=versions[name],
            metadata={
                "submissions_total": int(counts.get(stream, 0)),
                **{f"{t}_{k}": v for t, d in per.items() for k, v in d.items()},
            },
        )
    others = {
        "raw.submissions": {"row_count": int(sum(counts.values()))},
        "raw.submission_validation": {"validated_this_run": int(n_validated)},
        "quarantine.rejected_rows": {"row_count": int(n_rej_rows)},
        "quarantine.rejected_files": {"row_count": int(n_rej_files)},
        "raw.landing_fingerprints": {},
    }
    for name, meta in others.items():
        # Append-only tables: the version is the row count, unchanged when nothing landed.
        yield MaterializeResult(asset_key=tables.key(name), data_version=versions[name], metadata=meta)
