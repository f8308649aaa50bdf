"""Shared fixtures. Tests never touch the developer's warehouse or Dagster home."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.paths import ROOT_DIR, SHARED

os.environ.setdefault("DAGSTER_HOME", str(ROOT_DIR / ".dagster_home"))
# Test files are complete when written: read them at once (tests of the settle time pass a rule).
os.environ.setdefault("KONVERGENSI_LANDING_SETTLE_SECONDS", "0")



@pytest.fixture(autouse=True)
def _no_developer_dot_env(monkeypatch):
    """`cli.main` called in-process reads `.env` from the working directory (the repo, where a
    developer's `make dev-env` file lives): tests give their configuration themselves.
    tests/test_envfile.py and tests/test_cli.py test the loading itself."""
    import pipelines.envfile

    monkeypatch.setattr(pipelines.envfile, "load_env_file", lambda directory=None: [])


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


VILLAGE_STREAMS = ("child_measurements", "households", "village_scorecard")


@pytest.fixture(scope="session")
def small_submissions(tmp_path_factory):
    """``make(seed, villages, village_folder)``: a generated ``small`` month pair cut down to the
    first ``villages`` villages (no revised or broken files), with every regency and OPD report.
    Village streams go under ``<village_folder>/<stream>``, the others under ``landing/<stream>``;
    ``region_master.csv`` at the top."""
    import shutil

    from pipelines.synthetic.generate import generate

    def make(seed: int, villages: int, village_folder: str = "landing") -> Path:
        gen = tmp_path_factory.mktemp("gen")
        generate(gen, scale="small", seed=seed)
        out = tmp_path_factory.mktemp("src")
        shutil.copy2(gen / "region_master.csv", out / "region_master.csv")
        chosen = sorted({f.name.split("_")[0] for f in (gen / "child_measurements").iterdir()})[:villages]
        for stream_dir in (p for p in gen.iterdir() if p.is_dir()):
            village_stream = stream_dir.name in VILLAGE_STREAMS
            target = out / (village_folder if village_stream else "landing") / stream_dir.name
            target.mkdir(parents=True)
            for f in stream_dir.iterdir():
                if village_stream and (f.name.split("_")[0] not in chosen or "_" in f.stem.split("_", 1)[1]):
                    continue
                shutil.copy2(f, target / f.name)
        return out

    return make
