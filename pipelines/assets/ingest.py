"""Ingestion: every new submission from the portal and the landing folder lands in ``raw``."""


import dagster as dg
from dagster import AssetKey, AssetSpec, MaterializeResult, multi_asset

from pipelines.ingestion.land import DDL as INGEST_DDL
from pipelines.ingestion.land import ensure_raw_table, land_submissions, landing_incoming, portal_incoming
from pipelines.parsing.layouts import STREAMS
from pipelines.partitions import MONTHLY, SINGLE_RUN, context_months
from pipelines.resources import (
    LandingFolderResource,
    PortalResource,
    PseudonymResource,
    WarehouseResource,
)
from pipelines.settings import PORTAL_LOOKBACK, WAREHOUSE_POOL

RAW_STREAM_KEYS = {s: AssetKey(["raw", s]) for s in STREAMS}
SUBMISSIONS_KEY = AssetKey(["raw", "submissions"])
VALIDATION_KEY = AssetKey(["raw", "submission_validation"])
REJECTED_ROWS_KEY = AssetKey(["quarantine", "rejected_rows"])
REJECTED_FILES_KEY = AssetKey(["quarantine", "rejected_files"])
REGION_MASTER_KEY = AssetKey(["raw", "region_master"])
FINGERPRINTS_KEY = AssetKey(["raw", "landing_fingerprints"])

_DESCRIPTIONS = {
    SUBMISSIONS_KEY: "One row per submission received (any stream, any transport): submitter, period, "
    "version, content sha256, status and row counts. Append-only.",
    VALIDATION_KEY: "One row per submission landed: the outcome of its Great Expectations suite (failed "
    "expectations with counts, never values).",
    REJECTED_ROWS_KEY: "One row per rejected cell/row: stream, submission, row number, column, reason code "
    "and the pseudonymised row payload.",
    FINGERPRINTS_KEY: "One row per landing-folder file read: relative path, size, mtime and sha256. A file "
    "with the same size and mtime is not read again (a run with nothing new reads no file).",
    REJECTED_FILES_KEY: "One row per rejected file (undecodable, wrong format, required columns missing, "
    "bad file name), with the reason.",
}


@multi_asset(
    specs=[
        *[
            AssetSpec(key, description=f"Parsed, pseudonymised rows of every accepted `{s}` submission "
                      "(one row per source row; append-only).", group_name="raw", kinds={"duckdb"},
                      deps=[REGION_MASTER_KEY])
            for s, key in RAW_STREAM_KEYS.items()
        ],
        *[AssetSpec(k, description=d, group_name=k.path[0], kinds={"duckdb"}) for k, d in _DESCRIPTIONS.items()],
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
        con.execute(INGEST_DDL)
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
            ).fetchall()[0][0] if _has_submissions(con) else None
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
        for stream in STREAMS:
            # Streams nobody has submitted yet still get an (empty) typed table so SQL models build.
            ensure_raw_table(con, stream, parse(stream, [("empty.csv", b"")]).rows)
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
    for stream, key in RAW_STREAM_KEYS.items():
        per = {t: r.by_stream.get(stream, {}) for t, r in reports.items()}
        yield MaterializeResult(
            asset_key=key,
            metadata={
                "submissions_total": int(counts.get(stream, 0)),
                **{f"{t}_{k}": v for t, d in per.items() for k, v in d.items()},
            },
        )
    yield MaterializeResult(asset_key=SUBMISSIONS_KEY, metadata={"row_count": int(sum(counts.values()))})
    yield MaterializeResult(asset_key=VALIDATION_KEY, metadata={"validated_this_run": int(n_validated)})
    yield MaterializeResult(asset_key=REJECTED_ROWS_KEY, metadata={"row_count": int(n_rej_rows)})
    yield MaterializeResult(asset_key=REJECTED_FILES_KEY, metadata={"row_count": int(n_rej_files)})
    yield MaterializeResult(asset_key=FINGERPRINTS_KEY)


def _has_submissions(con) -> bool:
    return con.execute(
        "select count(*) from information_schema.tables where table_schema = 'raw' and table_name = 'submissions'"
    ).fetchall()[0][0] == 1
