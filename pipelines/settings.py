"""Constants and configuration defaults (no secrets).

Configuration lives in environment variables, each with a documented default
(:data:`ENV_DEFAULTS`, also listed in ``.env.example`` and the README). Dagster resources read
them through ``EnvVar``; an unset or empty variable means its default.
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DATA = Path(__file__).resolve().parent / "data"
SQL_DIR = PROJECT_ROOT / "dbt_like_sql"

# Warehouse layers, in build order. Asset key = [schema, table] = dbt_like_sql/<schema>/<table>.sql.
SCHEMAS = ("raw", "quarantine", "reference", "staging", "marts")

# How far before the last portal pull a new pull starts listing (updated_since).
PORTAL_LOOKBACK = _dt.timedelta(days=7)
# Pages one portal listing may take (a server whose cursors never end must not hold a run).
PORTAL_MAX_PAGES = 10_000

# Bounded inputs (docs/operations.md): the largest submission either transport reads
# (KONVERGENSI_MAX_SUBMISSION_BYTES), and how long a landing file must stay unmodified before it is
# read (KONVERGENSI_LANDING_SETTLE_SECONDS): one still being copied is left for the next run.
DEFAULT_MAX_SUBMISSION_BYTES = 100 * 1024 * 1024
DEFAULT_LANDING_SETTLE_SECONDS = 60.0
# Previously published files kept for rollback (KONVERGENSI_KEEP_PUBLISHED; 0 keeps none).
DEFAULT_KEEP_PUBLISHED = 3

# Quality thresholds (docs/quality.md). ERROR checks block the publish; WARN checks advise.
QUALITY = {
    # ERROR: an accepted submission with at least this many rows, more than this share of them rejected
    "max_rejected_share": 0.5,
    "min_rows_for_rejected_share": 10,
    # WARN: share of villages whose height digit preference score exceeds the WHO "problematic" 20
    "dps_problem_score": 20.0,
    "max_villages_with_digit_preference_pct": 25.0,
    # WARN: SD of unflagged HAZ per regency outside this band (surveys 1.35-1.95; routine data runs lower)
    "haz_sd_band": (0.8, 2.2),
    # WARN: share of expected submissions that arrived after their deadline
    "max_late_pct": 10.0,
}

# Concurrency pool shared by every asset that writes the warehouse (DuckDB: one writer).
WAREHOUSE_POOL = "duckdb_warehouse"

# Key used by `konvergensi demo` only. Never use it for real data: anyone holding it can
# re-identify pseudonyms by brute force over known NIKs.
DEMO_PSEUDONYM_KEY = "demo-key-not-secret-banten-konvergensi"
# Set by `konvergensi demo` in its own process only: the one place the demo key is accepted.
DEMO_MODE_ENV = "KONVERGENSI_DEMO_MODE"

# name -> (default, meaning). "" means "not configured".
ENV_DEFAULTS: dict[str, tuple[str, str]] = {
    "KONVERGENSI_WAREHOUSE": (
        "warehouse/banten.duckdb",
        "Published DuckDB file that BI tools read (relative paths are relative to the project root).",
    ),
    "KONVERGENSI_LANDING_DIR": (
        "",
        "Landing folder with <stream>/<file> submissions; empty = no landing folder.",
    ),
    "KONVERGENSI_PORTAL_URL": ("", "Base URL of the submission portal API; empty = no portal."),
    "KONVERGENSI_PORTAL_TOKEN": ("", "Bearer token for the portal (secret)."),
    "KONVERGENSI_PSEUDONYM_KEY": (
        "",
        "HMAC key for pseudonymising personal data (secret, at least 32 bytes); required to ingest submissions.",
    ),
    "KONVERGENSI_AS_OF_DATE": (
        "",
        "Date YYYY-MM-DD the marts are as of (overdue actions); empty = today in WIB. For re-running a past night.",
    ),
    "KONVERGENSI_KEEP_PUBLISHED": (
        str(DEFAULT_KEEP_PUBLISHED),
        "Previously published warehouse files kept for rollback (0 keeps none).",
    ),
    "KONVERGENSI_ALERT_WEBHOOK": (
        "",
        "URL a JSON message is POSTed to when a run fails (run id, job, failed steps and checks, months, link); "
        "empty = no alerts.",
    ),
    "KONVERGENSI_UI_URL": (
        "http://127.0.0.1:3000",
        "Base URL of the Dagster UI, for the run link in failure alerts.",
    ),
    "KONVERGENSI_REGION_MASTER": (
        "",
        "Region master CSV (code,level,name,parent_code); empty = the bundled official Kemendagri file.",
    ),
}

BUNDLED_REGION_MASTER = PACKAGE_DATA / "banten_regions.csv"


def apply_env_defaults() -> None:
    """Make every configuration variable resolvable by ``EnvVar``: an unset variable becomes
    empty, and resources treat empty as the documented default."""
    for name in ENV_DEFAULTS:
        os.environ.setdefault(name, "")


def env_value(name: str) -> str:
    """The effective value of a configuration variable (its default when unset or empty)."""
    return os.environ.get(name) or ENV_DEFAULTS[name][0]


def resolve_path(value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def ingest_workers() -> int:
    """Worker processes that parse and validate submissions while the main process writes DuckDB:
    ``KONVERGENSI_INGEST_WORKERS`` if set, else one per core (none on a single core). With a Dask
    cluster (``KONVERGENSI_DASK_SCHEDULER``) the cluster's workers do it (this says only "use them")."""
    raw = os.environ.get("KONVERGENSI_INGEST_WORKERS", "").strip()
    if os.environ.get("KONVERGENSI_DASK_SCHEDULER", "").strip():
        return max(1, int(raw)) if raw else 1
    if raw:
        return max(0, int(raw))
    cores = os.cpu_count() or 1
    return min(cores, 8) if cores > 1 else 0


def duckdb_config() -> dict[str, str | int]:
    """Settings for every DuckDB connection the pipeline opens.

    * A memory cap (``KONVERGENSI_DUCKDB_MEMORY_LIMIT``, default 4GB; DuckDB spills to disk beyond
      it) so that a national month stays within a small machine's memory next to the ingestion
      workers.
    * No checkpoint "vacuum" (``max_vacuum_tasks`` 0). At a checkpoint DuckDB merges neighbouring
      row groups that are partly filled or hold deleted rows, reading and compressing their rows
      again on one core. Here nearly every table is appended to in batches (landing) or rebuilt
      whole or by month (the SQL models), so the merging bought nothing and cost much. Measured on
      a Banten month (2026-12-02, DuckDB 2.0.1, runs alternated): the checkpoint at the end of
      landing 1.7-2.1 -> 0.13-0.24 s, the one before publishing 1.31-1.39 -> 0.19 s, and the working
      file 427 -> 353 MB (a merge leaves the replaced blocks in the file as free space). Without it a
      row group whose rows are all deleted (a rebuilt month's old rows) is still dropped and its
      space reused: a table whose month was deleted and inserted again on 12 nights stayed at
      72-84 MB (100 MB with the vacuum).
    """
    return {"memory_limit": os.environ.get("KONVERGENSI_DUCKDB_MEMORY_LIMIT", "").strip() or "4GB",
            "max_vacuum_tasks": 0}


def model_memory_limit() -> str:
    """DuckDB's memory cap while a SQL model builds and tests (``KONVERGENSI_DUCKDB_MODEL_MEMORY_LIMIT``,
    default 5GB), in place of :func:`duckdb_config`'s for the step's duration.

    The models run after ingestion, when the parser workers are gone, so the run's process may
    hold more than beside them. At national scale a model joins or groups 25 M children: under
    4 GB, ``fct_child_measurement``'s join spilled 3.2 GB and took 87 CPU s, under 5 GB it spilled
    0.1 GB and took 64 CPU s, with the process at 5.2 GB (measured alone, 2026-12-02).
    """
    return os.environ.get("KONVERGENSI_DUCKDB_MODEL_MEMORY_LIMIT", "").strip() or "5GB"


def max_submission_bytes() -> int:
    """Largest submission read from the portal or the landing folder
    (``KONVERGENSI_MAX_SUBMISSION_BYTES``, default 100 MiB); a larger one is refused ``too_large``
    without being read."""
    raw = os.environ.get("KONVERGENSI_MAX_SUBMISSION_BYTES", "").strip()
    return max(0, int(raw)) if raw else DEFAULT_MAX_SUBMISSION_BYTES


def landing_settle_seconds() -> float:
    """Seconds a landing file must stay unmodified before it is read
    (``KONVERGENSI_LANDING_SETTLE_SECONDS``, default 60; 0 reads files as soon as they appear)."""
    raw = os.environ.get("KONVERGENSI_LANDING_SETTLE_SECONDS", "").strip()
    return max(0.0, float(raw)) if raw else DEFAULT_LANDING_SETTLE_SECONDS


def keep_published() -> int:
    """Previously published files kept for rollback (``KONVERGENSI_KEEP_PUBLISHED``, default 3)."""
    return max(0, int(env_value("KONVERGENSI_KEEP_PUBLISHED")))


LANDING_ARCHIVE_MODES = ("keep", "archive")


def landing_archive() -> bool:
    """Whether landed files are moved to ``<landing>/_archive/<YYYY-MM>/<stream>/`` once their rows
    are committed (``KONVERGENSI_LANDING_ARCHIVE=archive``) or left in place (``keep``, the default:
    the pipeline then never writes the landing folder; docs/operations.md, "Landing retention")."""
    raw = os.environ.get("KONVERGENSI_LANDING_ARCHIVE", "").strip().lower() or "keep"
    if raw not in LANDING_ARCHIVE_MODES:
        raise ValueError(f"KONVERGENSI_LANDING_ARCHIVE={raw!r}: use 'keep' (the default) or 'archive'")
    return raw == "archive"
