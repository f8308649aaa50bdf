"""The warehouse beyond one file: real runs publish to a DuckLake catalog in a real PostgreSQL.

A PostgreSQL server (Debian's binaries) is started on a Unix socket for the test; the lake's Parquet
goes to a local folder (shared storage in production). The lake publish runs in ``.venv-lake``
(``make lake-env``, which ``make test`` builds): DuckDB 1.5.5 with the ducklake and postgres
extension wheels. Checked: each publish is one snapshot whose tables equal the published file's
(row hashes, comments); publishing the same file again adds none; an older snapshot still reads
as the file it came from; a lake that cannot be reached fails the publish/lake step by name, leaves the
file published and the lake at its previous snapshot, and the next publish catches up.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.bi.conftest import RUN_TIMEOUT_S, SECOND_MONTH, site_env
from tests.paths import ROOT_DIR

LAKE_PYTHON = ROOT_DIR / ".venv-lake" / "bin" / "python"

# Run in the lake's interpreter: per-table digests and comments of the file and of the lake (at a
# snapshot, or the newest), and the snapshots with their commit information.
_INSPECT = r"""
import json, sys
import duckdb
from pipelines.publishing import lake
args = json.loads(sys.argv[1])
con = duckdb.connect()
lake.attach_lake(con, args["catalog"], read_only=True)
out = {"snapshots": [list(r) for r in con.execute(
    "select snapshot_id, commit_message, commit_extra_info from lake.snapshots() order by 1").fetchall()]}
def describe(db, at=None):
    tables = {}
    for schema, table, comment in lake.published_tables(con, db):
        rows, digest = lake.table_digest(con, db, schema, table, at)
        cols = con.execute("select column_name, data_type, comment from duckdb_columns() where database_name = ? "
                           "and schema_name = ? and table_name = ? order by column_index", [db, schema, table]).fetchall()
        tables[f"{schema}.{table}"] = [rows, digest, comment, [list(c) for c in cols]]
    return tables
for i, path in enumerate(args.get("files", [])):
    con.execute(f"attach '{path}' as f{i} (read_only)")
    out[f"file{i}"] = describe(f"f{i}")
out["lake"] = describe("lake")
if args.get("at"):
    out["lake_at"] = describe("lake", args["at"])
print(json.dumps(out))
"""


def _server_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


@pytest.fixture
def postgres():
    """A PostgreSQL server on a Unix socket in a fresh folder, database ``lake``; stopped after."""
    initdb, pg_ctl = _server_bin("initdb"), _server_bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL server binaries (Debian's postgresql package) are not on this machine")
    if not LAKE_PYTHON.exists():
        pytest.skip("no .venv-lake: `make lake-env` (make test builds it)")
    folder = Path(tempfile.mkdtemp(prefix="konvergensi-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(folder, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = 55000 + os.getpid() % 1000
    subprocess.run([*as_user, initdb, "-D", str(folder / "data"), "-A", "trust", "-U", "lake"],
                   check=True, capture_output=True, timeout=120)
    subprocess.run([*as_user, pg_ctl, "-D", str(folder / "data"), "-w", "-l", str(folder / "log"),
                    "-o", f"-k {folder} -p {port} -c listen_addresses=''", "start"],
                   check=True, capture_output=True, timeout=120)
    server = {"folder": folder, "port": port, "as_user": as_user, "pg_ctl": pg_ctl,
              "catalog": f"postgres:dbname=lake host={folder} port={port} user=lake"}
    subprocess.run(["psql", "-h", str(folder), "-p", str(port), "-U", "lake", "-d", "postgres", "-qc",
                    "create database lake"], check=True, capture_output=True, timeout=60)
    try:
        yield server
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(folder / "data"), "-m", "immediate", "stop"],
                       capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


def _pg_ctl(server: dict, *args: str) -> None:
    subprocess.run([*server["as_user"], server["pg_ctl"], "-D", str(server["folder"] / "data"), "-w",
                    "-l", str(server["folder"] / "log"), *args], check=True, capture_output=True, timeout=120)


def _lake_env(root: Path, server: dict) -> dict:
    env = site_env(root)
    env.update(KONVERGENSI_LAKE_CATALOG=server["catalog"], KONVERGENSI_LAKE_DATA_PATH=str(root / "lake_data") + "/",
               KONVERGENSI_LAKE_PYTHON=str(LAKE_PYTHON))
    return env


def _run(env: dict, *args: str) -> subprocess.CompletedProcess:
    import sys

    return subprocess.run([sys.executable, "-W", "ignore", "-m", "pipelines.cli", "run", *args], cwd=ROOT_DIR,
                          env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)


def _inspect(server: dict, files: list[Path] = (), at: int | None = None) -> dict:
    proc = subprocess.run([str(LAKE_PYTHON), "-c", _INSPECT,
                           json.dumps({"catalog": server["catalog"], "files": [str(f) for f in files], "at": at})],
                          cwd=ROOT_DIR, env={**os.environ, "PYTHONPATH": str(ROOT_DIR)}, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _publish(env: dict, source: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LAKE_PYTHON), "-m", "pipelines.publishing.lake", "--source", str(source), "--json"],
                          cwd=ROOT_DIR, env={**env, "PYTHONPATH": str(ROOT_DIR)}, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.slow
def test_runs_publish_to_a_ducklake_in_postgres(bi_site, postgres):
    env = _lake_env(bi_site, postgres)
    published = bi_site / "wh" / "banten.duckdb"
    july = bi_site / "july.duckdb"
    shutil.copy2(published, july)  # what July's run published (the template site ran July, no lake)

    # A real run of the next month publishes the file, then the lake: one snapshot, equal to the file.
    proc = _run(env, "--period", SECOND_MONTH)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    seen = _inspect(postgres, [published])
    assert len(seen["snapshots"]) == 2  # DuckLake's own first snapshot, then this publish
    august_snapshot, message, extra = seen["snapshots"][-1]
    assert "publish of banten.duckdb" in message and json.loads(extra)["fingerprint"]
    assert seen["lake"] == seen["file0"]  # every table: rows, row hashes, columns, types, comments
    assert "marts.fct_stunting_prevalence" in seen["lake"] and "reference.who_growth_lms" in seen["lake"]
    assert not any(name.split(".")[0] in ("raw", "quarantine", "staging") for name in seen["lake"])
    assert seen["lake"]["marts.fct_stunting_prevalence"][2]  # the table's comment travelled
    assert list((bi_site / "lake_data").rglob("*.parquet"))  # the data is Parquet on the data path

    # The same file again: nothing to commit, no new snapshot.
    again = _publish(env, published)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == {"lake_snapshot": august_snapshot, "lake_unchanged": True,
                                        "lake_tables": len(seen["lake"])}

    # July's file published again (as after a rollback): a new snapshot equal to July; the August
    # snapshot still reads as August's file.
    back = _publish(env, july)
    assert back.returncode == 0, back.stderr
    seen = _inspect(postgres, [july, published], at=august_snapshot)
    assert len(seen["snapshots"]) == 3
    assert seen["lake"] == seen["file0"] and seen["lake"] != seen["file1"]
    assert seen["lake_at"] == seen["file1"]

    # The lake's catalog is down: the run fails at its publish/lake step, naming the lake; the file is
    # published, the lake keeps its snapshot. Back up, the next publish catches up.
    _pg_ctl(postgres, "stop", "-m", "fast")
    down = _run(env, "--period", SECOND_MONTH, "--force")
    assert down.returncode != 0
    said = down.stdout + down.stderr
    assert "lake publish failed" in said and "cannot attach the DuckLake catalog" in said, said[:3000]
    assert "the lake keeps its previous snapshot" in said and "publish__lake" in said
    assert "NOT published" not in said  # the file was published; only its lake step failed
    _pg_ctl(postgres, "-o", f"-k {postgres['folder']} -p {postgres['port']} -c listen_addresses=''", "start")
    assert len(_inspect(postgres)["snapshots"]) == 3
    caught = _publish(env, published)
    assert caught.returncode == 0, caught.stderr
    seen = _inspect(postgres, [published])
    assert len(seen["snapshots"]) == 4 and seen["lake"] == seen["file0"]


def test_a_lake_python_without_the_extension_is_named(tmp_path):
    """This venv's DuckDB has no ducklake extension: the publish says so and where to get one."""
    import sys

    source = tmp_path / "w.duckdb"
    import duckdb

    duckdb.connect(str(source)).close()
    proc = subprocess.run([sys.executable, "-m", "pipelines.publishing.lake", "--source", str(source),
                           "--catalog", str(tmp_path / "catalog.ducklake")], cwd=ROOT_DIR,
                          capture_output=True, text=True, timeout=120)
    if proc.returncode == 0:
        pytest.skip("this interpreter's DuckDB loads ducklake")
    assert proc.returncode == 1
    assert "cannot load the ducklake extension" in proc.stderr and "make lake-env" in proc.stderr
