"""A site of one's own for in-process pipeline runs: a warehouse and Dagster home under ``root``,
every ``KONVERGENSI_*`` variable cleared, then the ones given set."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pipelines import settings


@contextmanager
def pipeline_site(root: Path, **env: object) -> Iterator[Path]:
    """``pipeline_site(root, KONVERGENSI_LANDING_DIR=...)``: the environment while the block runs."""
    (root / "home").mkdir(parents=True, exist_ok=True)
    (root / "home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with pytest.MonkeyPatch.context() as mp:
        for name in settings.ENV_DEFAULTS:
            mp.setenv(name, "")
        mp.setenv("DAGSTER_HOME", str(root / "home"))
        mp.setenv("KONVERGENSI_WAREHOUSE", str(root / "wh" / "banten.duckdb"))
        for name, value in env.items():
            mp.setenv(name, str(value))
        yield root
