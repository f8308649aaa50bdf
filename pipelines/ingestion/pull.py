"""One ingestion run: the portal, then the landing folder, into ``raw``; what it did.

The Dagster asset (:mod:`pipelines.assets.ingest`) calls :func:`pull_submissions` and turns the
returned :class:`~pipelines.ingestion.report.IngestionRun` into materialisations.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from collections.abc import Iterator
from pathlib import Path

from pipelines import tables
from pipelines.ingestion.incoming import Incoming, landing_incoming, portal_incoming
from pipelines.ingestion.keys import verify_key
from pipelines.ingestion.land import land_submissions
from pipelines.ingestion.report import IngestionRun, IngestReport
from pipelines.settings import PORTAL_LOOKBACK


def _portal_since(con) -> str | None:
    """Where the portal listing starts: a window before the last pull, so a file the portal
    dates earlier than it publishes is still seen (ids already landed cost no download)."""
    since = con.execute("select max(received_at) from raw.submissions where transport = 'portal'").fetchall()[0][0]
    return (since - PORTAL_LOOKBACK).isoformat() + "Z" if since else None


def _state(con, run_id: str, transports: dict[str, IngestReport], errors: list[str]) -> IngestionRun:
    from pipelines.sql_engine import build_state

    def scalar(sql: str, params=()):
        return con.execute(sql, list(params)).fetchall()[0][0]

    return IngestionRun(
        transports=transports,
        errors=errors + [e for r in transports.values() for e in r.errors],
        submissions=dict(con.execute("select stream, count(*) from raw.submissions group by stream").fetchall()),
        rejected_rows=scalar("select count(*) from quarantine.rejected_rows"),
        rejected_files=scalar("select count(*) from quarantine.rejected_files"),
        rejected_values=scalar("select count(*) from quarantine.rejected_values"),
        warnings=scalar("select count(*) from raw.submission_warnings"),
        validated_this_run=scalar("select count(*) from raw.submission_validation where run_id = ?", [run_id]),
        versions={name: build_state.table_version(con, name) for name in tables.INGESTION_TABLES},
    )


def _until_portal_error(incoming: Iterator[Incoming], errors: list[str]) -> Iterator[Incoming]:
    """What the portal listed until its listing failed (an outage, a cursor that repeats, too many
    pages): that much lands, and the failure is recorded in ``errors``."""
    from pipelines.ingestion.portal import PortalError

    try:
        yield from incoming
    except PortalError as exc:
        errors.append(f"portal: {exc}")


def _noting_stats(incoming: Iterator[Incoming], listed: list) -> Iterator[Incoming]:
    """The landing files offered, noting each one's listed stat (what the archive step may move)."""
    for inc in incoming:
        if inc.stat is not None:
            listed.append(inc.stat)
        yield inc


def pull_submissions(con, run_id: str, months: set[str] | None, pseudonymiser, *, landing_root: Path | None,
                     portal_client=None, workers: int = 0, archive: bool = False) -> IngestionRun:
    """Land what the portal (when ``portal_client`` is given) and the landing folder (when
    ``landing_root`` is) offer for ``months`` (None: every month), parsed with the warehouse's
    region master and validated with the Great Expectations suites. A portal failure is recorded
    in the result's errors (what the portal listed before it failed lands) and the landing folder
    still lands; the caller decides what it means. With ``archive``, landing files whose content
    an accepted submission holds are then moved to ``<landing>/_archive/`` (:mod:`~pipelines.ingestion.archive`)."""
    from pipelines.ingestion.validation.runner import validate_submissions as validate
    from pipelines.parsing.parse import parse_batch_joined
    from pipelines.parsing.regions import RegionIndex

    tables.ensure_all(con, tables.INGESTION_TABLES)
    # A key that is not the one this warehouse's pseudonyms were made with lands nothing.
    verify_key(con, pseudonymiser.key_fingerprint())
    regions = RegionIndex.from_frame(con.execute("select * from raw.region_master").df())
    parse = functools.partial(parse_batch_joined, pseudonymiser=pseudonymiser, regions=regions)
    land = functools.partial(land_submissions, con, parse_many=parse, run_id=run_id, months=months,
                             validate=validate, workers=workers)
    transports: dict[str, IngestReport] = {}
    errors: list[str] = []
    with _checkpoint_once(con), _one_duckdb_thread_beside_workers(con):
        _land_all(con, land, transports, errors, portal_client, landing_root, archive)
    return _state(con, run_id, transports, errors)


# WAL size that triggers a checkpoint while landing. DuckDB's default (16 MB) checkpoints after
# nearly every batch, and each checkpoint compresses again the row groups the next batch appends
# to: on a Banten month that cost ~8 of the main process's ~17 CPU seconds. One checkpoint at the
# end (or every 1 GiB of WAL) compresses each row group once; the WAL keeps every committed batch
# durable meanwhile.
LANDING_CHECKPOINT_THRESHOLD = "1GiB"


@contextlib.contextmanager
def _one_duckdb_thread_beside_workers(con):
    """DuckDB on one thread while landing, when the batches are prepared on this machine (the
    embedded workers, or this process when there are none): they keep its cores busy, and DuckDB's
    second thread only split the single writer's inserts across them, at a cost. Restored before
    the checkpoint that ends landing, which has the cores to itself. A remote cluster
    (``KONVERGENSI_DASK_SCHEDULER``) leaves this machine's cores to the writer: DuckDB keeps its
    threads. Measured (2026-12-04, alternated runs, two pairs each): the writer's CPU 7.9/7.9 ->
    7.2/7.1 s on a Banten month and 20.3/19.4 -> 18.0/18.2 s on the five Java provinces of the
    national month (3.86M rows), ingestion 45.8/45.2 -> 44.2/44.4 s there."""
    from pipelines.ingestion.embedded import scheduler_address

    with contextlib.nullcontext() if scheduler_address() else _setting(con, "threads", 1):
        yield


@contextlib.contextmanager
def _setting(con, name: str, value) -> Iterator[None]:
    """DuckDB's setting ``name`` at ``value`` for the block, then back to what it was (a
    database-wide setting: every cursor of it sees the change)."""
    (before,) = con.execute(f"select current_setting('{name}')").fetchone()
    con.execute(f"set {name} = ?", [value])
    try:
        yield
    finally:
        con.execute(f"set {name} = ?", [before])


@contextlib.contextmanager
def _checkpoint_once(con):
    with _setting(con, "checkpoint_threshold", LANDING_CHECKPOINT_THRESHOLD):
        yield
    # No vacuum (settings.duckdb_config): landing only appends, one partly filled row group per batch.
    con.execute("checkpoint")


def _land_all(con, land, transports: dict[str, IngestReport], errors: list[str], portal_client,
              landing_root: Path | None, archive: bool) -> None:
    if portal_client is not None:
        listed = portal_incoming(portal_client, updated_since=_portal_since(con))
        transports["portal"] = land(_until_portal_error(listed, errors))
    if landing_root is not None:
        listed: list = []
        transports["landing"] = land(_noting_stats(landing_incoming(landing_root), listed))
        if archive:
            from pipelines.ingestion.archive import archive_landed

            moved = archive_landed(con, landing_root, listed, dt.datetime.now(dt.UTC))
            transports["landing"].archived = len(moved)
