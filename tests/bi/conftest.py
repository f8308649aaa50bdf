"""A published warehouse built by a real run, for the BI client tests.

``bi_site`` generates the small synthetic set (every stream, with its revised and broken files),
lands it from a landing folder and runs July 2024 through ``konvergensi run`` in a child process,
as the nightly job would. August is left in the landing folder but not run, so a test can run it
while a client reads (``run_month``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines import settings
from tests.paths import ROOT_DIR

FIRST_MONTH, SECOND_MONTH = "2024-07", "2024-08"
KEY = "bi-client-test-key-0123456789abcdefghij"
RUN_TIMEOUT_S = 600


def site_env(root: Path) -> dict[str, str]:
    """The environment of a run on the site under ``root`` (no developer setting leaks in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KONVERGENSI_")}
    env.update({name: "" for name in settings.ENV_DEFAULTS})
    env.update(
        DAGSTER_HOME=str(root / "home"),
        KONVERGENSI_WAREHOUSE=str(root / "wh" / "banten.duckdb"),
        KONVERGENSI_LANDING_DIR=str(root / "landing"),
        KONVERGENSI_REGION_MASTER=str(root / "landing" / "region_master.csv"),
        KONVERGENSI_PSEUDONYM_KEY=KEY,
        KONVERGENSI_LANDING_SETTLE_SECONDS="0",
        KONVERGENSI_LOG_LEVEL="WARNING",
    )
    return env


def start_month(root: Path, month: str) -> subprocess.Popen:
    """``konvergensi run --period month`` on the site, started (not waited for)."""
    return subprocess.Popen(
        [sys.executable, "-W", "ignore", "-m", "pipelines.cli", "run", "--period", month],
        cwd=ROOT_DIR, env=site_env(root), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def run_month(root: Path, month: str) -> None:
    proc = start_month(root, month)
    out, _ = proc.communicate(timeout=RUN_TIMEOUT_S)
    assert proc.returncode == 0, out[-4000:]


@pytest.fixture(scope="session")
def bi_template(tmp_path_factory) -> Path:
    """A site (landing folder, Dagster home, warehouse) after a real run of July; read-only template."""
    from pipelines.synthetic.generate import generate

    root = tmp_path_factory.mktemp("bi_site")
    generate(root / "landing", scale="small", seed=7)
    (root / "home").mkdir()
    (root / "home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    run_month(root, FIRST_MONTH)
    return root


@pytest.fixture(scope="session")
def published(bi_template) -> Path:
    """The published warehouse of the template site (open it read-only)."""
    path = bi_template / "wh" / "banten.duckdb"
    assert path.is_file()
    return path


@pytest.fixture
def bi_site(bi_template, tmp_path) -> Path:
    """A copy of the template site to change freely (run another month, publish again)."""
    root = tmp_path / "site"
    shutil.copytree(bi_template, root, symlinks=True)
    return root
