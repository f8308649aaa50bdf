"""Publishing the BI-facing warehouse file: readers never see a half-built warehouse, a killed
publisher never damages the published file, kept versions roll back, DuckDB 1.4 opens the file.

Real files and real processes: readers and publishers run as separate Python processes.
"""

from __future__ import annotations

import json
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import duckdb
import pytest

from pipelines import cli
from pipelines.publishing.publish import KEEP_PUBLISHED, database_fingerprint, list_kept, publish_database
from pipelines.publishing.rollback import RollbackError, choose_version, format_versions, rollback
from tests.paths import ROOT_DIR

ROOT = ROOT_DIR
ROWS_PER_VERSION = 1000
FACTS_COMMENT = "Versi gudang data (warehouse version)"

# A reader that opens the published file read-only, checks it is one complete version, closes it,
# and loops. "hold" mode opens once and keeps the connection, as a BI tool's pool does all day.
READER = textwrap.dedent(
    """
    import json, os, sys
    import duckdb

    published, stop, mode = sys.argv[1:4]
    reads, errors, seen, last = 0, [], [], None
    held = duckdb.connect(published, read_only=True) if mode == "hold" else None
    while not os.path.exists(stop):
        try:
            con = held or duckdb.connect(published, read_only=True)
            try:
                (v,), = con.execute("select v from marts.version").fetchall()
                (n,), = con.execute("select count(*) from marts.facts").fetchall()
                (other,), = con.execute("select count(*) from marts.facts where v <> ?", [v]).fetchall()
                (summary,), = con.execute("select n_facts from marts.summary").fetchall()
                tables = con.execute(
                    "select count(*) from duckdb_tables() where schema_name = 'marts'").fetchall()
            finally:
                if held is None:
                    con.close()
            if n != v * 1000 or summary != n or other != 0 or tables != [(3,)]:
                errors.append(f"incomplete: version {v}, {n} facts, summary {summary}, other {other}")
        except Exception as exc:
            errors.append(repr(exc)[:300])
            v = None
        reads += 1
        if v is not None and v != last:
            seen.append(v)
            last = v
            print(f"SEEN {v}", flush=True)
    print("RESULT " + json.dumps({"reads": reads, "errors": errors[:20], "n_errors": len(errors),
                                  "seen": seen}), flush=True)
    """
)

# Publishes one work file over and over until killed.
PUBLISHER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from pipelines.publishing.publish import publish_database

    work, published = Path(sys.argv[1]), Path(sys.argv[2])
    print("ready", flush=True)
    while True:
        publish_database(work, published)
    """
)


def build_work(path: Path, version: int) -> Path:
    """A working warehouse of one version: marts.version(v), v*1000 facts, a summary row."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema marts")
        con.execute("create table marts.version as select ?::integer as v", [version])
        con.execute(
            f"create table marts.facts as select range as id, {version} as v, "
            f"'row ' || range as label from range({version * ROWS_PER_VERSION})"
        )
        con.execute(f"comment on column marts.facts.v is '{FACTS_COMMENT}'")
        con.execute("create table marts.summary as select count(*) as n_facts from marts.facts")
    finally:
        con.close()
    return path


def published_version(path: Path) -> int:
    """The version in a published file, after checking it is complete."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        ((v,),) = con.execute("select v from marts.version").fetchall()
        ((n,),) = con.execute("select count(*) from marts.facts").fetchall()
    finally:
        con.close()
    assert n == v * ROWS_PER_VERSION, f"version {v} has {n} facts"
    return v


def leftovers(published: Path) -> list[str]:
    return sorted(p.name for p in published.parent.iterdir() if p.name.endswith((".tmp", ".tmp.wal")))


def _spawn(script: Path, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )


def _pump(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))


def _wait_for(lines: queue.Queue, wanted: str, timeout: float = 60) -> list[str]:
    got = []
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            raise AssertionError(f"reader never printed {wanted!r}; got {got}") from None
        got.append(line)
        if line == wanted or line.startswith("RESULT"):
            return got


def test_readers_only_ever_see_complete_versions(tmp_path):
    published = tmp_path / "wh" / "banten.duckdb"
    publish_database(build_work(tmp_path / "work" / "v0.duckdb", 0), published)
    script = tmp_path / "reader.py"
    script.write_text(READER)
    stop = tmp_path / "stop"
    looping, holding = _spawn(script, str(published), str(stop), "loop"), None
    try:
        holding = _spawn(script, str(published), str(stop), "hold")
        outputs = {"loop": queue.Queue(), "hold": queue.Queue()}
        pumps = {}
        for proc, name in ((looping, "loop"), (holding, "hold")):
            pumps[name] = threading.Thread(target=_pump, args=(proc.stdout, outputs[name]), daemon=True)
            pumps[name].start()
        _wait_for(outputs["loop"], "SEEN 0")
        _wait_for(outputs["hold"], "SEEN 0")
        for version in range(1, 11):
            publish_database(build_work(tmp_path / "work" / f"v{version}.duckdb", version), published)
            # The next publish waits until the looping reader has opened this version, so every
            # version is read while the following one is being built and renamed in.
            _wait_for(outputs["loop"], f"SEEN {version}")
        stop.touch()
        results = {}
        for proc, name in ((looping, "loop"), (holding, "hold")):
            proc.wait(timeout=60)
            pumps[name].join(timeout=10)
            lines = []
            while not outputs[name].empty():
                lines.append(outputs[name].get())
            result_lines = [line for line in lines if line.startswith("RESULT ")]
            assert result_lines, f"{name} reader printed no result; stderr: {proc.stderr.read()[-2000:]}"
            results[name] = json.loads(result_lines[-1][len("RESULT ") :])
    finally:
        stop.touch()
        for proc in (looping, holding):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    loop, hold = results["loop"], results["hold"]
    print(f"\nlooping reader: {loop['reads']} reads over 10 publishes; holding reader: {hold['reads']} reads")
    assert loop["n_errors"] == 0, loop["errors"]
    assert hold["n_errors"] == 0, hold["errors"]
    assert loop["seen"] == list(range(0, 11))  # in order: never an older version after a newer
    # A connection held across ten renames still reads the file it opened (the old inode).
    assert hold["seen"] == [0] and hold["reads"] > 0
    assert published_version(published) == 10
    assert leftovers(published) == []


def test_sigkilled_publisher_leaves_previous_or_new_file(tmp_path):
    published = tmp_path / "wh" / "banten.duckdb"
    figures = publish_database(build_work(tmp_path / "work" / "v0.duckdb", 0), published)
    script = tmp_path / "publisher.py"
    script.write_text(PUBLISHER)
    rng = random.Random(20240817)
    one_publish = max(figures["seconds"], 0.02)
    killed_mid_publish, outcomes = 0, []
    for version in range(1, 11):
        work = build_work(tmp_path / "work" / f"v{version}.duckdb", version)
        proc = _spawn(script, str(work), str(published))
        try:
            assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
            time.sleep(rng.uniform(0, 4 * one_publish))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        killed_mid_publish += bool(leftovers(published))
        after_kill = published_version(published)
        assert after_kill in (version - 1, version)
        outcomes.append(after_kill == version)
        # The next publish succeeds and cleans what the killed one left behind.
        figures = publish_database(work, published)
        assert published_version(published) == version
        assert leftovers(published) == []
        assert len(list_kept(published)) <= KEEP_PUBLISHED
        assert not (published.parent / "published").exists() or not [
            p for p in (published.parent / "published").iterdir() if p.name.startswith(".")
        ]
    print(
        f"\n10 SIGKILLs: {killed_mid_publish} left temp files (killed mid-publish), "
        f"{sum(outcomes)} found the new version, {10 - sum(outcomes)} the previous one"
    )


def test_rollback_restores_previous_and_can_be_undone(tmp_path):
    published = tmp_path / "wh" / "banten.duckdb"
    for version in (1, 2, 3):
        publish_database(build_work(tmp_path / "work" / f"v{version}.duckdb", version), published)
    kept = list_kept(published)
    assert [published_version(k.path) for k in kept] == [2, 1]  # newest first
    assert all(k.size > 0 for k in kept)

    result = rollback(published)
    assert published_version(published) == 2
    assert result.restored == kept[0].name
    # The file it replaced (v3) is kept first, so the rollback itself can be undone.
    assert [published_version(k.path) for k in list_kept(published)] == [3, 2, 1]
    listing = format_versions(published)
    assert all(k.name in listing for k in list_kept(published))

    rollback(published)
    assert published_version(published) == 3
    oldest = list_kept(published)[-1]
    oldest_version = published_version(oldest.path)
    rollback(published, to=oldest.name)
    assert published_version(published) == oldest_version
    assert leftovers(published) == []


def test_rollback_restored_file_is_a_separate_copy(tmp_path):
    published = tmp_path / "wh" / "banten.duckdb"
    for version in (1, 2):
        publish_database(build_work(tmp_path / "work" / f"v{version}.duckdb", version), published)
    restored = choose_version(published)
    rollback(published)
    # A read-write open of the published file must not be able to change a kept version.
    assert published.stat().st_ino != restored.path.stat().st_ino


def test_keeps_only_the_newest_n(tmp_path):
    published = tmp_path / "wh" / "banten.duckdb"
    for version in range(1, 7):
        publish_database(build_work(tmp_path / "work" / f"v{version}.duckdb", version), published)
    kept = list_kept(published)
    assert len(kept) == KEEP_PUBLISHED
    assert [published_version(k.path) for k in kept] == list(range(5, 5 - KEEP_PUBLISHED, -1))
    publish_database(tmp_path / "work" / "v6.duckdb", published, keep=1, skip_unchanged=False)
    assert [published_version(k.path) for k in list_kept(published)] == [6]
    publish_database(tmp_path / "work" / "v6.duckdb", published, keep=0, skip_unchanged=False)
    assert list_kept(published) == []


def test_publishing_the_same_contents_again_changes_nothing(tmp_path):
    published = tmp_path / "wh" / "banten.duckdb"
    work = build_work(tmp_path / "work" / "v1.duckdb", 1)
    first = publish_database(work, published)
    inode = published.stat().st_ino
    again = publish_database(work, published)
    assert not first["unchanged"] and again["unchanged"]
    assert published.stat().st_ino == inode and list_kept(published) == []
    # the fingerprint looks at contents, not bytes: the DuckDB 1.4 copy equals its source
    assert database_fingerprint(work) == database_fingerprint(published)
    changed = build_work(tmp_path / "work" / "v2.duckdb", 2)
    assert database_fingerprint(changed) != database_fingerprint(published)
    assert not publish_database(changed, published)["unchanged"]
    assert published_version(published) == 2 and len(list_kept(published)) == 1


def test_a_quiet_publish_reads_no_table_and_a_rollback_is_noticed(tmp_path, monkeypatch):
    """The working database's state token (table versions) is noted at publish time: the next
    unchanged publish compares tokens and hashes no table; after a rollback (another file, another
    mtime) the contents are compared again."""
    import pipelines.publishing.publish as wio

    published = tmp_path / "wh" / "banten.duckdb"
    v1, v2 = build_work(tmp_path / "work" / "v1.duckdb", 1), build_work(tmp_path / "work" / "v2.duckdb", 2)
    publish_database(v1, published)
    publish_database(v2, published)
    read = []
    real = wio.database_fingerprint
    monkeypatch.setattr(wio, "database_fingerprint",
                        lambda path, *args: read.append(Path(path).name) or real(path, *args))
    assert publish_database(v2, published)["unchanged"]
    assert read == []
    rollback(published)  # v1 is back; the note still describes v2
    result = publish_database(v2, published)
    assert not result["unchanged"] and read == ["v2.duckdb", "banten.duckdb"]
    assert published_version(published) == 2
    con = duckdb.connect(str(v2))
    con.execute("insert into marts.facts select * from marts.facts limit 1")  # any change is seen
    con.close()
    assert not publish_database(v2, published)["unchanged"]


def test_keeping_is_a_hard_link_to_the_replaced_file(tmp_path):
    published = tmp_path / "wh" / "banten.duckdb"
    publish_database(build_work(tmp_path / "work" / "v1.duckdb", 1), published)
    inode = published.stat().st_ino
    publish_database(build_work(tmp_path / "work" / "v2.duckdb", 2), published)
    (kept,) = list_kept(published)
    assert kept.path.stat().st_ino == inode


def test_crashed_publish_leftovers_are_cleaned(tmp_path):
    published = tmp_path / "wh" / "banten.duckdb"
    publish_database(build_work(tmp_path / "work" / "v1.duckdb", 1), published)
    for name in (".banten.duckdb.dead0001.tmp", ".banten.duckdb.dead0001.tmp.wal"):
        (published.parent / name).write_bytes(b"half a database")
    (published.parent / "published").mkdir(exist_ok=True)
    half_kept = published.parent / "published" / ".banten.20240101T000000000000Z.duckdb.dead0002.tmp"
    half_kept.write_bytes(b"half a copy")
    unrelated = published.parent / "notes.tmp"
    unrelated.write_text("not ours")
    figures = publish_database(build_work(tmp_path / "work" / "v2.duckdb", 2), published)
    assert figures["cleaned_leftovers"] == 3
    assert leftovers(published) == ["notes.tmp"]
    assert not half_kept.exists()
    assert published_version(published) == 2


def test_rollback_errors_when_nothing_is_kept(tmp_path):
    published = tmp_path / "wh" / "banten.duckdb"
    with pytest.raises(RollbackError, match="nothing to roll back to"):
        rollback(published)
    publish_database(build_work(tmp_path / "work" / "v1.duckdb", 1), published)
    with pytest.raises(RollbackError, match="nothing to roll back to"):
        rollback(published)
    publish_database(build_work(tmp_path / "work" / "v2.duckdb", 2), published)
    with pytest.raises(RollbackError, match="no kept version named"):
        rollback(published, to="banten.19990101T000000000000Z.duckdb")
    assert published_version(published) == 2


def test_rollback_command(isolated_env, capsys):
    published = isolated_env / "wh" / "banten.duckdb"
    assert cli.main(["rollback", "--list"]) == 0
    assert "no kept versions" in capsys.readouterr().out
    assert cli.main(["rollback"]) == 2
    assert "nothing to roll back to" in capsys.readouterr().err
    for version in (1, 2, 3):
        publish_database(build_work(isolated_env / "work" / f"v{version}.duckdb", version), published)
    assert cli.main(["rollback", "--list"]) == 0
    listing = capsys.readouterr().out
    assert all(k.name in listing for k in list_kept(published)) and "size" in listing
    oldest = list_kept(published)[-1].name
    assert cli.main(["rollback", "--to", oldest]) == 0
    assert oldest in capsys.readouterr().out
    assert published_version(published) == 1


# --- DuckDB 1.4 readers -------------------------------------------------------------------------

DUCKDB14_VENV = ROOT / ".pytest_cache" / "duckdb14-venv"


def _duckdb14_python(tmp_path: Path) -> Path:
    """Python of a venv with duckdb 1.4, built once per machine and cached under .pytest_cache."""
    python = DUCKDB14_VENV / "bin" / "python"
    probe = "import duckdb, sys; sys.exit(0 if duckdb.__version__.startswith('1.4.') else 1)"
    if python.exists() and subprocess.run([str(python), "-c", probe]).returncode == 0:
        return python
    building = tmp_path / "duckdb14-venv"
    subprocess.run([sys.executable, "-m", "venv", str(building)], check=True)
    install = subprocess.run(
        [
            str(building / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--retries",
            "1",
            "--timeout",
            "30",
            "duckdb==1.4.*",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if install.returncode != 0:
        pytest.skip(f"could not pip install duckdb==1.4.* (no network?): {install.stderr.strip()[-300:]}")
    shutil.rmtree(DUCKDB14_VENV, ignore_errors=True)
    DUCKDB14_VENV.parent.mkdir(parents=True, exist_ok=True)
    # The interpreter is a symlink and pyvenv.cfg names only the base Python, so `bin/python -m`
    # works after the move.
    shutil.move(str(building), str(DUCKDB14_VENV))
    return python


@pytest.mark.slow
def test_duckdb_14_opens_the_published_file(tmp_path):
    python = _duckdb14_python(tmp_path)
    published = tmp_path / "wh" / "banten.duckdb"
    publish_database(build_work(tmp_path / "work" / "v4.duckdb", 4), published)
    check = textwrap.dedent(
        """
        import json, sys
        import duckdb
        con = duckdb.connect(sys.argv[1], read_only=True)
        comment = con.execute(
            "select comment from duckdb_columns() where schema_name = 'marts' "
            "and table_name = 'facts' and column_name = 'v'").fetchall()
        rows = con.execute("select count(*) from marts.facts").fetchall()
        print(json.dumps({"version": duckdb.__version__, "comment": comment[0][0], "rows": rows[0][0]}))
        """
    )
    out = subprocess.run([str(python), "-c", check, str(published)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stdout)
    assert seen["version"].startswith("1.4.")
    assert seen["comment"] == FACTS_COMMENT
    assert seen["rows"] == 4 * ROWS_PER_VERSION


def test_the_published_file_holds_what_bi_reads_and_no_one_else_can_read_it(tmp_path, monkeypatch):
    """Marts and reference, with their comments; raw rows, refused payloads and file names stay in the
    working file. The file is 0640 and a folder the publish creates 0750, unless the operator says otherwise."""
    monkeypatch.delenv("KONVERGENSI_PUBLISHED_MODE", raising=False)
    work = build_work(tmp_path / "work" / "v1.duckdb", 1)
    con = duckdb.connect(str(work))
    for schema in ("raw", "quarantine", "staging", "reference"):
        con.execute(f"create schema {schema}")
    con.execute("create table raw.submissions as select 'landing/child_measurements/Siti.xlsx' as file_name")
    con.execute("create table quarantine.rejected_rows as select '{\"nama\": \"x\"}' as payload")
    con.execute("create table staging.stg_x as select 1 as k")
    con.execute("create table reference.target_settings as select 14.0 as pct_target")
    con.execute("comment on table reference.target_settings is 'Targets (Target)'")
    con.close()
    published = tmp_path / "new" / "wh" / "banten.duckdb"
    publish_database(work, published)

    con = duckdb.connect(str(published), read_only=True)
    tables = con.execute("select schema_name || '.' || table_name from duckdb_tables() order by 1").fetchall()
    comments = dict(con.execute("select table_name, comment from duckdb_tables() where comment is not null").fetchall())
    column_comment = con.execute("select comment from duckdb_columns() where table_name = 'facts' "
                                 "and column_name = 'v'").fetchall()
    con.close()
    assert [t for (t,) in tables] == ["marts.facts", "marts.summary", "marts.version", "reference.target_settings"]
    assert comments == {"target_settings": "Targets (Target)"} and column_comment == [(FACTS_COMMENT,)]
    assert b"Siti" not in published.read_bytes()
    assert published.stat().st_mode & 0o777 == 0o640
    assert published.parent.stat().st_mode & 0o777 == 0o750 and (tmp_path / "new").stat().st_mode & 0o777 == 0o750
    # an unchanged working file (raw rows added) does not publish again; a mart change does
    con = duckdb.connect(str(work))
    con.execute("insert into raw.submissions values ('another.csv')")
    con.close()
    assert publish_database(work, published)["unchanged"]

    monkeypatch.setenv("KONVERGENSI_PUBLISHED_MODE", "0644")
    publish_database(build_work(tmp_path / "work" / "v2.duckdb", 2), published)
    assert published.stat().st_mode & 0o777 == 0o644
    monkeypatch.setenv("KONVERGENSI_PUBLISHED_MODE", "rw-r--r--")
    with pytest.raises(ValueError, match="octal"):
        publish_database(build_work(tmp_path / "work" / "v3.duckdb", 3), published)


def test_kept_count_comes_from_the_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("KONVERGENSI_KEEP_PUBLISHED", "1")
    published = tmp_path / "wh" / "banten.duckdb"
    for version in range(1, 4):
        publish_database(build_work(tmp_path / "work" / f"v{version}.duckdb", version), published)
    assert [published_version(k.path) for k in list_kept(published)] == [2]
    rollback(published)
    assert [published_version(k.path) for k in list_kept(published)] == [3]


def test_parquet_copies_and_the_run_lock_folder_are_as_private_as_the_published_file(tmp_path, monkeypatch):
    from pipelines.publishing.exports import export_marts_parquet
    from pipelines.resources import acquire_run_lock

    monkeypatch.delenv("KONVERGENSI_PUBLISHED_MODE", raising=False)
    work = build_work(tmp_path / "work" / "v1.duckdb", 1)
    out = tmp_path / "wh" / "parquet"
    export_marts_parquet(work, out)
    assert out.stat().st_mode & 0o777 == 0o750 and (tmp_path / "wh").stat().st_mode & 0o777 == 0o750
    assert {p.stat().st_mode & 0o777 for p in out.glob("*.parquet")} == {0o640}
    acquire_run_lock(tmp_path / "new" / "work" / ".run.lock", wait_s=0).close()
    assert (tmp_path / "new").stat().st_mode & 0o777 == 0o750
