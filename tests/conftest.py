"""Shared fixtures. Tests never touch the developer's warehouse or Dagster home."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("DAGSTER_HOME", str(Path(__file__).resolve().parent.parent / ".dagster_home"))

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"


@pytest.fixture
def shared_dir() -> Path:
    """../shared (domain brief, official reference data); tests skip cleanly without it."""
    if not SHARED.is_dir():
        pytest.skip("../shared is not present")
    return SHARED


@pytest.fixture
def isolated_env(tmp_path, monkeypatch):
    """Every KONVERGENSI_* variable pointed into tmp_path (or cleared)."""
    from pipelines import settings

    for name in settings.ENV_DEFAULTS:
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("KONVERGENSI_WAREHOUSE", str(tmp_path / "wh" / "banten.duckdb"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    (tmp_path / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return tmp_path
