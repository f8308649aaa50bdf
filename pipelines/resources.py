"""Dagster resources: every piece of external I/O, configured through ``EnvVar``.

An unset or empty variable means its documented default (:data:`pipelines.settings.ENV_DEFAULTS`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import duckdb
from dagster import ConfigurableResource, EnvVar

from pipelines import settings
from pipelines.warehouse_io import publish_database


class WarehouseResource(ConfigurableResource):
    """The DuckDB warehouse. Runs write a working file; :meth:`publish` replaces the file BI
    tools read (``KONVERGENSI_WAREHOUSE``) in one atomic rename, so readers never see a
    half-built warehouse."""

    path: str = ""

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
        path = self.work_path
        path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(path), read_only=read_only)
        try:
            if not read_only:
                for schema in settings.SCHEMAS:
                    con.execute(f"create schema if not exists {schema}")
            yield con
        finally:
            con.close()

    def publish(self) -> dict:
        return publish_database(self.work_path, self.published_path)


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
        from pipelines.portal.client import PortalClient

        return PortalClient(self.url, self.token)


class PseudonymResource(ConfigurableResource):
    """Keyed HMAC for personal data. Ingestion refuses to run without a key."""

    key: str = ""

    def pseudonymiser(self):
        from pipelines.sources.pseudonym import Pseudonymiser

        if not self.key:
            raise RuntimeError(
                "KONVERGENSI_PSEUDONYM_KEY is not set: refusing to ingest personal data without a "
                "pseudonymisation key (the demo sets its own, published demo key)."
            )
        return Pseudonymiser(self.key.encode("utf-8"))


class RegionMasterResource(ConfigurableResource):
    """Region master CSV (``code,level,name,parent_code``); empty = the bundled official file."""

    path: str = ""

    @property
    def file(self) -> Path:
        return settings.resolve_path(self.path) if self.path else settings.BUNDLED_REGION_MASTER


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
    }
