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


def check_evaluation(run_id: str, check_name: str):
    """The evaluation of asset check ``check_name`` in run ``run_id`` (from the Dagster instance)."""
    from dagster import DagsterEventType, DagsterInstance

    with DagsterInstance.get() as instance:
        for entry in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
            ev = entry.dagster_event.event_specific_data
            if ev.check_name == check_name:
                return ev
    raise AssertionError(f"{check_name} did not run in {run_id}")


def impossible_birth_dates(lines: list[str], rows) -> list[str]:
    """e-PPGBM ``;`` lines with the birth date (``Tgl Lahir``) of ``rows`` made impossible: a row
    without an age cannot be used, so it is quarantined (a bad weight alone would only null the weight)."""
    out = list(lines)
    for i in rows:
        cells = out[i].split(";")
        cells[4] = "2/31/2023"  # Tgl Lahir
        out[i] = ";".join(cells)
    return out
