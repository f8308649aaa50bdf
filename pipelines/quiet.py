"""A quiet night: whether a run over some months would change anything, decided without running it.

The nightly schedule and ``konvergensi run`` ask :func:`check_night` first; when it finds nothing
new they start no run (the schedule returns a SkipReason, the CLI says "nothing new" and exits 0).
It reads the working warehouse read-only, under the run lock taken without waiting (a run writing
it means "run anyway": the run waits for the lock), and never opens the published file BI reads.

A run is needed, and each reason is named, when:

* a landing file or a portal submission for the months is one ingestion would land: the same rule
  as ingestion (:mod:`pipelines.ingestion.land`): a file whose size and mtime match
  ``raw.landing_fingerprints`` is not read, and content already in ``raw.submissions`` is known;
  a file still being written (settle time) is left for a later run, as ingestion leaves it;
* the working warehouse changed since it was published (a set-aside decision, a failed run that
  landed data, a key rotation): its state token is not the one noted at the last publish;
* the code, the SQL or the region master differs from the newest successful run's
  (:data:`CODE_TAG` on every run of the nightly job);
* a month's newest run failed, or a submission covering a month landed (or was set aside) after
  the newest successful run over that month ended (an unnamed file landed by another month's run);
* the date the marts are as of changed (overdue actions): :attr:`NightCheck.only_date` says when
  that is the only reason, so the schedule refreshes just the date-dependent marts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pipelines import settings
from pipelines.periods import as_of_date, covering_filter_sql, wants

# Run tag: digest of the code, the SQL and the region master a run of the nightly job was built with.
CODE_TAG = "konvergensi/code_version"
_CODE_SUFFIXES = {".py", ".c", ".sql", ".yml", ".yaml", ".csv"}
DATE_REASON = "the as-of date changed"


def code_version(region_master: Path | None = None) -> str:
    """Digest of every pipeline source file, SQL model and bundled data file, and of the region
    master in use: a run built from other code or another region master may build another warehouse."""
    digest = hashlib.sha256()
    for folder in (settings.PROJECT_ROOT / "pipelines", settings.SQL_DIR):
        for path in sorted(folder.rglob("*")):
            if path.suffix in _CODE_SUFFIXES and "__pycache__" not in path.parts and path.is_file():
                digest.update(path.relative_to(settings.PROJECT_ROOT).as_posix().encode())
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    if region_master is not None and region_master.is_file():
        digest.update(b"region_master")
        digest.update(hashlib.sha256(region_master.read_bytes()).digest())
    return digest.hexdigest()[:16]


def current_code_version() -> str:
    """:func:`code_version` with the region master KONVERGENSI_REGION_MASTER names (or the bundled one)."""
    from pipelines.resources import RegionMasterResource

    return code_version(RegionMasterResource(path=settings.env_value("KONVERGENSI_REGION_MASTER")).file)


@dataclass
class RunHistory:
    """What the Dagster instance says about the nightly job: the code version of its newest
    successful run, and per month the newest run covering it (status, end time in UTC)."""

    code_version: str | None = None
    months: dict[str, tuple[str, dt.datetime | None]] = field(default_factory=dict)

    @classmethod
    def read(cls, instance, job_name: str = "nightly", lookback: int = 300) -> RunHistory:
        from dagster import RunsFilter

        from pipelines.catchup import outcome, run_months

        history = cls()
        for record in instance.get_run_records(filters=RunsFilter(job_name=job_name), limit=lookback):
            status = outcome(record).status
            if status == "succeeded" and history.code_version is None:
                history.code_version = record.dagster_run.tags.get(CODE_TAG, "")
            ended = record.end_time
            when = dt.datetime.fromtimestamp(ended, dt.UTC).replace(tzinfo=None) if ended else None
            for month in run_months(record.dagster_run.tags):
                history.months.setdefault(month, (status, when))
        return history


@dataclass
class NightCheck:
    """What :func:`check_night` found for ``months``: the reasons a run is needed (none: a quiet
    night), and landing files left for later because they are still being written."""

    months: list[str]
    reasons: list[str] = field(default_factory=list)
    settling: list[str] = field(default_factory=list)
    published_at: dt.datetime | None = None

    @property
    def quiet(self) -> bool:
        return not self.reasons

    @property
    def only_date(self) -> bool:
        """Nothing arrived and nothing changed, but the day did: only date-dependent marts move."""
        return self.reasons == [DATE_REASON]

    def span(self) -> str:
        return self.months[0] if len(self.months) == 1 else f"{self.months[0]}..{self.months[-1]}"

    def message(self) -> str:
        if not self.quiet:
            return f"{self.span()}: a run is needed: " + "; ".join(self.reasons)
        since = f" since {self.published_at:%Y-%m-%d %H:%M} UTC" if self.published_at else ""
        text = f"{self.span()}: nothing new{since}; warehouse unchanged"
        if self.settling:
            text += f" ({len(self.settling)} landing file(s) still being written, left for a later run)"
        return text


def check_night(months: list[str], *, work_path: Path, published_path: Path, landing_root: Path | None,
                portal_client=None, history: RunHistory | None = None, code: str | None = None,
                as_of: dt.date | None = None) -> NightCheck:
    """Whether a run over ``months`` would change the warehouse (see the module docstring)."""
    night = NightCheck(months=list(months))
    if not work_path.exists() or not published_path.exists():
        night.reasons.append("no published warehouse yet")
        return night
    with _reading(work_path) as con:
        if con is None:
            night.reasons.append("another run is writing the warehouse")
            return night
        _check_warehouse(con, night, published_path, history, code, as_of)
        _check_arrivals(con, night, landing_root, portal_client)
    return night


@contextlib.contextmanager
def _reading(work_path: Path) -> Iterator:
    """The working warehouse opened read-only under the run lock taken without waiting; None while
    a run holds the lock."""
    from pipelines.resources import WarehouseBusyError, acquire_run_lock

    try:
        lock = acquire_run_lock(work_path.parent / ".run.lock", wait_s=0)
    except WarehouseBusyError:
        yield None
        return
    try:
        import duckdb

        con = duckdb.connect(str(work_path), read_only=True, config=settings.duckdb_config())
        try:
            yield con
        finally:
            con.close()
    finally:
        lock.close()


def _check_warehouse(con, night: NightCheck, published_path: Path, history: RunHistory | None,
                     code: str | None, as_of: dt.date | None) -> None:
    from pipelines.publishing.publish import noted_token
    from pipelines.sql_engine.build_state import state_token, table_exists

    if noted_token(published_path) != state_token(con):
        night.reasons.append("the working warehouse changed since it was published")
    else:
        night.published_at = dt.datetime.fromtimestamp(published_path.stat().st_mtime, dt.UTC).replace(tzinfo=None)
    if history is not None:
        if history.code_version is None:
            night.reasons.append("no successful run yet")
        elif code is not None and history.code_version != code:
            night.reasons.append("the code, SQL or region master changed since the last successful run")
        for month in night.months:
            night.reasons += _month_reasons(con, month, *history.months.get(month, ("never", None)))
    if not table_exists(con, "reference.run_date"):
        night.reasons.append("no as-of date yet")
        return
    built = con.execute("select max(as_of_date) from reference.run_date").fetchall()[0][0]
    if built != (as_of or as_of_date(settings.env_value("KONVERGENSI_AS_OF_DATE"))):
        night.reasons.append(DATE_REASON)


def _month_reasons(con, month: str, status: str, ended: dt.datetime | None) -> list[str]:
    """Why ``month`` needs a run given its newest run's status and end: it failed; or a submission
    covering it landed, or a decision about one was taken, after the newest run over it (or ever,
    for a month never run)."""
    if status == "failed":
        return [f"the last run over {month} failed"]
    if status in ("pending", "retrying"):
        return [f"a run over {month} is queued, running or retrying"]
    covers = covering_filter_sql("period", [month])
    latest = con.execute(
        f"select max(t) from (select max(ingested_at) as t from raw.submissions where {covers} "
        f"union all select max(e.decided_at) from raw.submission_exclusions e "
        f"join raw.submissions s using (submission_id) where s.{covers})"
    ).fetchall()[0][0]
    if latest is not None and (ended is None or latest > ended):
        return [f"submissions for {month} landed or were set aside after its last successful run"]
    return []


def _check_arrivals(con, night: NightCheck, landing_root: Path | None, portal_client) -> None:
    """New landing files and portal submissions for the months, by ingestion's own rule."""
    from pipelines.ingestion import fingerprints
    from pipelines.ingestion.commit import Ledger
    from pipelines.ingestion.land import refusal_id
    from pipelines.ingestion.unread import NotReady

    ledger = Ledger.load(con)
    wanted = set(night.months)
    new: list[str] = []
    unread = 0
    if landing_root is not None:
        from pipelines.ingestion.incoming import landing_incoming, read_name

        cache = fingerprints.load(con)
        wanted_period: dict[str, bool] = {}  # a national folder holds 250k files of a few periods

        def for_the_months(stream: str, name: str) -> bool:
            """Whether a file's name lets it land in these months (an unnamed file, or a name
            refused outright, may: they go the whole way); the others are not even stat'ed."""
            key, _ = read_name(stream, name)
            if key is None:
                return True
            if key.period not in wanted_period:
                wanted_period[key.period] = wants(key.period, wanted)
            return wanted_period[key.period]

        for inc in landing_incoming(landing_root, keep=for_the_months):
            if new and inc.must_read(cache):
                # One new submission decides the night: the rest are not read twice (the run
                # reads them), only counted.
                unread += 1
                continue
            try:
                fp, _ = inc.fingerprint(cache)  # read only when size or mtime changed
            except NotReady:
                night.settling.append(inc.stat.path)
                continue
            refused_unread = inc.sha256 is not None  # its stand-in hash came with the listing
            if not (ledger.holds(inc, fp.sha256) or (refused_unread and refusal_id(inc, fp.sha256) in ledger.ids)):
                new.append(f"landing:{inc.stat.path}")
    if portal_client is not None:
        new += _portal_arrivals(con, portal_client, ledger, wanted, night)
    if new:
        more = f", and up to {unread:,} more not read yet" if unread else ""
        night.reasons.insert(0, f"{len(new)} new or changed submission(s), e.g. {new[0]}{more}")


def _portal_arrivals(con, client, ledger, wanted: set[str], night: NightCheck) -> list[str]:
    from pipelines.ingestion.incoming import portal_incoming
    from pipelines.ingestion.portal import PortalError
    from pipelines.ingestion.pull import _portal_since

    new = []
    try:
        for inc in portal_incoming(client, updated_since=_portal_since(con)):
            if inc.lands_in(wanted) and not ledger.holds(inc, inc.sha256):
                new.append(f"portal:{inc.stream}/{inc.file_name}")
    except PortalError as exc:
        night.reasons.append(f"the portal listing failed ({exc}); a run records it")
    return new


def night_check(months: list[str], instance) -> NightCheck:
    """:func:`check_night` for the configured warehouse, landing folder and portal (the variables
    the resources read; no resource is set up, so no run lock is waited for) and the Dagster
    instance's run history."""
    from pipelines.resources import LandingFolderResource, PortalResource, WarehouseResource

    settings.apply_env_defaults()
    env = settings.env_value
    warehouse = WarehouseResource(path=env("KONVERGENSI_WAREHOUSE"))
    landing = LandingFolderResource(path=env("KONVERGENSI_LANDING_DIR"))
    portal = PortalResource(url=env("KONVERGENSI_PORTAL_URL"), token=env("KONVERGENSI_PORTAL_TOKEN"))
    try:
        return check_night(
            months, work_path=warehouse.work_path, published_path=warehouse.published_path,
            landing_root=landing.root if landing.configured else None,
            portal_client=portal.client() if portal.configured else None,
            history=RunHistory.read(instance), code=current_code_version(),
        )
    except Exception as exc:  # noqa: BLE001 - the check may skip a run, never stop one
        return NightCheck(months=list(months), reasons=[f"the quiet-night check failed ({type(exc).__name__}: {exc})"])


def known_landing(work_path: Path) -> tuple[dict, object] | None:
    """What ingestion already read and landed: ``raw.landing_fingerprints`` as a sensor cursor
    (``relative path -> [size, mtime_ns, sha256]``) and the ledger of landed submissions; None when
    there is no working warehouse yet or a run is writing it (never waited for)."""
    if not work_path.exists():
        return None
    from pipelines.ingestion import fingerprints
    from pipelines.ingestion.commit import Ledger
    from pipelines.sql_engine.build_state import table_exists

    with _reading(work_path) as con:
        needed = ("raw.landing_fingerprints", "raw.submissions", "quarantine.rejected_files")
        if con is None or not all(table_exists(con, t) for t in needed):
            return None
        cache = {path: list(fp) for path, fp in fingerprints.load(con).items()}
        return cache, Ledger.load(con)
