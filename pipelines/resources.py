"""Dagster resources: every piece of external I/O, configured through ``EnvVar``.

An unset or empty variable means its documented default (:data:`pipelines.settings.ENV_DEFAULTS`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
from dagster import ConfigurableResource, EnvVar
from pydantic import PrivateAttr

from pipelines import settings
from pipelines.publishing.publish import private_mkdir, publish_database


class WarehouseBusyError(RuntimeError):
    """Another run holds the working warehouse."""


def acquire_run_lock(lock_path: Path, wait_s: float | None = None):
    """An exclusive ``flock`` on ``lock_path``, waiting up to ``wait_s`` seconds
    (``KONVERGENSI_RUN_LOCK_WAIT``, default 600) for a run already holding it; then a clear
    error naming the holder. Returns the open file; closing it releases the lock."""
    if wait_s is None:
        wait_s = float(os.environ.get("KONVERGENSI_RUN_LOCK_WAIT", "") or 600)
    private_mkdir(lock_path.parent)
    handle = open(lock_path, "a+")  # noqa: SIM115 - held for the whole run
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                handle.close()
                raise WarehouseBusyError(
                    f"another run is writing the warehouse ({holder}); this run stopped after waiting "
                    f"{wait_s:.0f} s and wrote nothing. Retry when it has finished."
                ) from None
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} since {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S} UTC")
    handle.flush()
    return handle


class WarehouseResource(ConfigurableResource):
    """The DuckDB warehouse. Runs write a working file; :meth:`publish` replaces the file BI
    tools read (``KONVERGENSI_WAREHOUSE``) in one atomic rename, so readers never see a
    half-built warehouse."""

    path: str = ""
    _run_lock: object = PrivateAttr(default=None)
    # Inside a run: one DuckDB database opened once and shared by every step (each step gets its
    # own cursor). Opening the working file costs ~15 ms and closing it a checkpoint; a run has
    # ~150 steps and checks, and a warm buffer cache spares the next step re-reading the tables.
    _shared: object = PrivateAttr(default=None)
    _in_run: bool = PrivateAttr(default=False)

    @property
    def published_path(self) -> Path:
        return settings.resolve_path(self.path or settings.ENV_DEFAULTS["KONVERGENSI_WAREHOUSE"][0])

    @property
    def work_path(self) -> Path:
        published = self.published_path
        return published.parent / "work" / published.name

    @property
    def parquet_dir(self) -> Path:
        """Parquet copies of the marts, beside the published file (warehouse/parquet/)."""
        return self.published_path.parent / "parquet"

    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._in_run and not read_only:
            con = self._shared_database().cursor()
        else:
            path = self.work_path
            private_mkdir(path.parent)
            con = duckdb.connect(str(path), read_only=read_only, config=settings.duckdb_config())
            if not read_only:
                self._create_schemas(con)
        try:
            yield con
        finally:
            con.close()

    @staticmethod
    def _create_schemas(con) -> None:
        for schema in settings.SCHEMAS:
            con.execute(f"create schema if not exists {schema}")

    def _shared_database(self) -> duckdb.DuckDBPyConnection:
        if self._shared is None:
            private_mkdir(self.work_path.parent)
            con = duckdb.connect(str(self.work_path), config=settings.duckdb_config())
            self._create_schemas(con)
            self._shared = con
        return self._shared

    def release(self) -> None:
        """Close the run's shared database (checkpointing it), so that the file on disk holds
        every write; the next :meth:`connect` of the run opens it again."""
        if self._shared is not None:
            self._shared.close()
            self._shared = None

    def publish(self) -> dict:
        # The copy reads the file from another DuckDB instance: it must be complete on disk.
        self.release()
        return publish_database(self.work_path, self.published_path)

    def setup_for_execution(self, context) -> None:
        # One run at a time owns the working file: the lock is taken when the run initialises
        # its resources, before any step claims a pool slot (so two runs can never hold one
        # each and wait on each other), and held to the end of the run (released in
        # teardown_after_execution, or by the kernel if the run dies).
        self._run_lock = acquire_run_lock(self.work_path.parent / ".run.lock")
        self._in_run = True

    def teardown_after_execution(self, context) -> None:
        self._in_run = False
        self.release()
        if self._run_lock is not None:
            self._run_lock.close()
            self._run_lock = None


class LandingFolderResource(ConfigurableResource):
    """Folder of dropped files, ``<dir>/<stream>/<file>``; empty = not configured."""

    path: str = ""

    @property
    def configured(self) -> bool:
        return bool(self.path)

    @property
    def root(self) -> Path:
        return settings.resolve_path(self.path)


class PortalResource(ConfigurableResource):
    """Submission portal API; empty URL = not configured."""

    url: str = ""
    token: str = ""

    @property
    def configured(self) -> bool:
        return bool(self.url)

    def client(self):
        from pipelines.ingestion.portal import PortalClient

        # Seconds to wait for a response to start arriving; a slower portal counts as a fault
        # and is retried (KONVERGENSI_PORTAL_READ_TIMEOUT, default 30).
        read_timeout = float(os.environ.get("KONVERGENSI_PORTAL_READ_TIMEOUT", "") or 30)
        return PortalClient(self.url, self.token, timeout=(5.0, read_timeout),
                            max_bytes=settings.max_submission_bytes())


class PseudonymResource(ConfigurableResource):
    """Keyed HMAC for personal data. Ingestion refuses to run without a key."""

    key: str = ""

    def pseudonymiser(self):
        """The pseudonymiser, once the key passes :func:`pipelines.ingestion.keys.check_key` (32 bytes
        or more; the published demo key only inside the demo)."""
        from pipelines.ingestion.keys import check_key
        from pipelines.parsing.pseudonym import Pseudonymiser

        return Pseudonymiser(check_key(self.key, demo_mode=os.environ.get(settings.DEMO_MODE_ENV) == "1"))


class RegionMasterResource(ConfigurableResource):
    """Region master CSV (``code,level,name,parent_code``); empty = the bundled official file."""

    path: str = ""

    @property
    def file(self) -> Path:
        return settings.resolve_path(self.path) if self.path else settings.BUNDLED_REGION_MASTER


class AlertResource(ConfigurableResource):
    """Where failure alerts go: ``webhook`` (empty = nowhere) and the Dagster UI base URL the alert
    links to (empty = the documented default)."""

    webhook: str = ""
    ui_url: str = ""

    @property
    def configured(self) -> bool:
        return bool(self.webhook)

    @property
    def ui_base(self) -> str:
        return self.ui_url or settings.ENV_DEFAULTS["KONVERGENSI_UI_URL"][0]


def build_resources() -> dict[str, ConfigurableResource]:
    settings.apply_env_defaults()
    return {
        "warehouse": WarehouseResource(path=EnvVar("KONVERGENSI_WAREHOUSE")),
        "landing": LandingFolderResource(path=EnvVar("KONVERGENSI_LANDING_DIR")),
        "portal": PortalResource(
            url=EnvVar("KONVERGENSI_PORTAL_URL"), token=EnvVar("KONVERGENSI_PORTAL_TOKEN")
        ),
        "pseudonym": PseudonymResource(key=EnvVar("KONVERGENSI_PSEUDONYM_KEY")),
        "region_master": RegionMasterResource(path=EnvVar("KONVERGENSI_REGION_MASTER")),
        "alerts": AlertResource(webhook=EnvVar("KONVERGENSI_ALERT_WEBHOOK"), ui_url=EnvVar("KONVERGENSI_UI_URL")),
    }
