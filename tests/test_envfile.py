"""One .env for `konvergensi` and `dagster dev` (pipelines/envfile.py) and `make dev-env`."""

from __future__ import annotations

import os
import stat

from pipelines.envfile import load_env_file, write_dev_env
from pipelines.ingestion.keys import check_key
from tests.paths import ROOT_DIR


def test_load_env_file_sets_only_what_the_environment_lacks(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text('I19_A_SET="from file"\nI19_B_KEPT=from file\n# I19_C=commented\nI19_D=\n')
    monkeypatch.delenv("I19_A_SET", raising=False)
    monkeypatch.setenv("I19_B_KEPT", "from shell")
    for name in ("I19_C", "I19_D"):
        monkeypatch.delenv(name, raising=False)
    assert sorted(load_env_file(tmp_path)) == ["I19_A_SET", "I19_D"]
    assert os.environ["I19_A_SET"] == "from file" and os.environ["I19_B_KEPT"] == "from shell"
    assert "I19_C" not in os.environ and os.environ["I19_D"] == ""


def test_load_env_file_without_a_file_does_nothing(tmp_path):
    assert load_env_file(tmp_path) == []


def test_dev_env_writes_a_fresh_key_and_a_landing_folder_and_never_overwrites(tmp_path):
    target = tmp_path / ".env"
    assert write_dev_env(target, ROOT_DIR / ".env.example")
    values = dict(line.split("=", 1) for line in target.read_text().splitlines() if line and not line.startswith("#"))
    assert set(values) == {"KONVERGENSI_PSEUDONYM_KEY", "KONVERGENSI_LANDING_DIR"}  # the rest stays default
    check_key(values["KONVERGENSI_PSEUDONYM_KEY"], demo_mode=False)  # 32 bytes or more, not the demo key
    assert (tmp_path / values["KONVERGENSI_LANDING_DIR"]).is_dir()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    before = target.read_text()
    assert not write_dev_env(target, ROOT_DIR / ".env.example")
    assert target.read_text() == before
    other = tmp_path / "other"
    other.mkdir()
    write_dev_env(other / ".env", ROOT_DIR / ".env.example")
    assert (other / ".env").read_text() != before  # a new key each time


def test_dot_env_is_gitignored():
    assert ".env" in (ROOT_DIR / ".gitignore").read_text().splitlines()
