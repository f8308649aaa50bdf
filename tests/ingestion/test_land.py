"""Landing submissions from both transports: exactly once, versions, quarantine, no clear PII.

Real files in the generator's layouts, a real portal server on loopback, a real DuckDB file.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipelines.ingestion.incoming import landing_incoming, portal_incoming
from pipelines.ingestion.land import land_submissions
from pipelines.ingestion.portal import PortalClient
from pipelines.parsing.parse import parse_batch, parse_batch_joined
from pipelines.parsing.pseudonym import Pseudonymiser
from pipelines.parsing.regions import RegionIndex
from pipelines.synthetic.generate import generate
from pipelines.synthetic.portal_server import FaultPlan, make_server

TOKEN = "test-token-not-secret"


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("gen")
    return out, generate(out, scale="small", seed=7)


def _subset(src: Path, dst: Path, streams: dict[str, int], extra: list[str] = ()) -> Path:
    """Copy the first N files of each stream (plus named extras), keeping mtimes."""
    for stream, n in streams.items():
        (dst / stream).mkdir(parents=True, exist_ok=True)
        for f in sorted((src / stream).iterdir())[:n]:
            shutil.copy2(f, dst / stream / f.name)
    for rel in extra:
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / rel, dst / rel)
    return dst


@pytest.fixture
def parse(generated):
    out, _ = generated
    regions = RegionIndex.from_frame(pd.read_csv(out / "region_master.csv", dtype=str, keep_default_na=False))
    pseudonymiser = Pseudonymiser(b"test-key")

    def _parse(stream, files, hints=None):
        return parse_batch(stream, files, hints, pseudonymiser=pseudonymiser, regions=regions)

    return _parse


@pytest.fixture
def portal_dir(generated, tmp_path):
    out, summary = generated
    specials = summary["special_files"]
    return _subset(out, tmp_path / "portal", {"child_measurements": 12, "households": 5},
                   extra=[*specials["broken"], *specials["missing_columns"]])


def _serve(folder: Path, faults=None):
    return make_server(folder, host="127.0.0.1", port=0, token=TOKEN, faults=faults).start_in_thread()


def _scalar(con, sql):
    return con.execute(sql).fetchall()[0][0]


def test_both_transports_land_each_submission_once(generated, portal_dir, tmp_path, parse):
    out, _ = generated
    landing = _subset(out, tmp_path / "landing", {"child_measurements": 15, "aksi_reports": 10, "opd_programmes": 10})
    server = _serve(portal_dir)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    for schema in ("raw", "quarantine"):
        con.execute(f"create schema {schema}")
    try:
        client = PortalClient(server.base_url, TOKEN)
        rep_portal = land_submissions(con, portal_incoming(client), parse, "run-1")
        rep_landing = land_submissions(con, landing_incoming(landing), parse, "run-1")
    finally:
        server.stop()
    # 12 child files are on both transports: the landing folder adds only its 3 extra
    assert rep_portal.by_stream["child_measurements"]["submissions"] == 12
    assert rep_landing.by_stream["child_measurements"]["submissions"] == 3
    assert rep_landing.skipped_known == 12
    assert rep_portal.rejected_files == 2  # garbage bytes + missing columns
    assert _scalar(con, "select count(*) from raw.submissions") == (
        12 + 5 + 2 + 3 + len(list((landing / "aksi_reports").iterdir())) + len(list((landing / "opd_programmes").iterdir()))
    )
    reasons = dict(con.execute("select file_name, reason_code from quarantine.rejected_files").fetchall())
    assert sorted(reasons.values()) == ["missing_columns", "undecodable"]
    # every source row is accounted for
    assert _scalar(con, "select count(*) from raw.submissions where status = 'accepted' and "
                        "n_source_rows <> n_rows_accepted + n_rows_rejected") == 0
    assert _scalar(con, "select sum(n_rows_accepted) from raw.submissions where stream = 'child_measurements'") == \
        _scalar(con, "select count(*) from raw.child_measurements")

    # a second pull of everything lands nothing new
    server = _serve(portal_dir)
    try:
        again = land_submissions(con, portal_incoming(PortalClient(server.base_url, TOKEN)), parse, "run-2")
    finally:
        server.stop()
    again_landing = land_submissions(con, landing_incoming(landing), parse, "run-2")
    assert again.landed == again_landing.landed == 0
    assert again.skipped_known == 19


def test_corrected_file_is_a_new_version(generated, tmp_path, parse):
    out, summary = generated
    revisi = summary["special_files"]["revisi"][0]
    original = re.sub(r"_revisi(\.\w+)$", r"\1", revisi)
    landing = _subset(out, tmp_path / "landing", {}, extra=[original])
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    for schema in ("raw", "quarantine"):
        con.execute(f"create schema {schema}")
    land_submissions(con, landing_incoming(landing), parse, "run-1")
    _subset(out, landing, {}, extra=[revisi])
    rep = land_submissions(con, landing_incoming(landing), parse, "run-2")
    assert rep.landed == 1
    versions = con.execute("select file_name, version from raw.submissions order by version").fetchall()
    assert [v for _, v in versions] == [1, 2]
    assert versions[1][0].endswith(Path(revisi).name)


def test_portal_faults_give_the_same_warehouse(generated, portal_dir, tmp_path, parse):
    def pull(faults, name):
        server = _serve(portal_dir, faults)
        con = duckdb.connect(str(tmp_path / name))
        for schema in ("raw", "quarantine"):
            con.execute(f"create schema {schema}")
        try:
            client = PortalClient(server.base_url, TOKEN, timeout=(1.0, 0.5), backoff_factor=0.01)
            rep = land_submissions(con, portal_incoming(client), parse, "run")
        finally:
            server.stop()
        assert not rep.errors
        return (
            con.execute("select submission_id, content_sha256, n_rows_accepted from raw.submissions order by 1").fetchall(),
            con.execute("select * exclude (submission_id) from raw.child_measurements order by all").fetchall(),
            len(server.fault_log),
        )

    clean = pull(None, "clean.duckdb")
    faulty = pull(FaultPlan(rate=0.2, seed=3, retry_after="0", slow_s=1.0), "faulty.duckdb")
    assert faulty[2] > 0, "no fault was injected"
    assert clean[:2] == faulty[:2]


def _personal_values(folder: Path) -> tuple[set[str], set[str]]:
    """NIKs and names as written by the generator (read straight from its CSV files)."""
    niks, names = set(), set()
    for f in (folder / "child_measurements").glob("*.csv"):
        raw = f.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("cp1252")
        lines = text.splitlines()
        if not lines or ";" not in lines[0]:
            continue
        header = lines[0].split(";")
        if "NIK" not in header or "Nama" not in header:
            continue
        i_nik, i_name, i_parent = header.index("NIK"), header.index("Nama"), header.index("Nama Ortu")
        for line in lines[1:]:
            cells = line.split(";")
            if len(cells) == len(header):
                niks.add(cells[i_nik].strip())
                names.update(c.strip() for c in (cells[i_name], cells[i_parent]) if len(c.strip()) > 5)
    return niks, names


def test_no_personal_data_in_the_duckdb_file(generated, tmp_path, parse):
    out, _ = generated
    landing = _subset(out, tmp_path / "landing", {"child_measurements": 40, "households": 20, "village_scorecard": 5})
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    for schema in ("raw", "quarantine"):
        con.execute(f"create schema {schema}")
    land_submissions(con, landing_incoming(landing), parse, "run")
    con.execute("checkpoint")
    con.close()
    niks, names = _personal_values(landing)
    assert len(niks) > 100 and len(names) > 100
    blob = db.read_bytes()
    # the compressed file itself: no 16-digit NIK string, no generated name
    assert not re.search(rb"(?<![0-9a-f])36\d{14}(?![0-9a-f])", blob)
    con = duckdb.connect(str(db), read_only=True)
    text_cells = set()
    for schema, table, column in con.execute(
        "select table_schema, table_name, column_name from information_schema.columns where data_type = 'VARCHAR'"
    ).fetchall():
        text_cells.update(
            v for (v,) in con.execute(f'select distinct "{column}" from "{schema}"."{table}"').fetchall() if v
        )
    everything = "\n".join(text_cells)
    # a NIK is 16 digits standing alone; 32-hex pseudonyms may contain digit runs, hence the hex guard
    assert not re.search(r"(?<![0-9a-f])\d{16}(?![0-9a-f])", everything)
    leaked = [n for n in names if n in everything]
    assert not leaked, f"{len(leaked)} generated names found in the warehouse"


@pytest.mark.parametrize(
    ("period", "months", "expected"),
    [
        ("2024-08", {"2024-08"}, True),
        ("2024-07", {"2024-08"}, False),
        ("2024-Q3", {"2024-08"}, True),
        ("2024-Q2", {"2024-08"}, False),
        ("2024", {"2024-08"}, True),
        ("2023", {"2024-08"}, False),
        ("2023", None, True),
        # no partition can land these, so every run does: nothing waits forever
        ("2019", {"2024-08"}, True),
        (None, {"2024-08"}, True),
    ],
)
def test_a_month_partition_lands_its_month_quarter_and_year(period, months, expected):
    from pipelines.periods import wants

    assert wants(period, months) is expected


def test_period_filter_lands_only_that_month(generated, tmp_path, parse):
    out, _ = generated
    landing = _subset(out, tmp_path / "landing", {"child_measurements": 400, "aksi_reports": 10})
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    for schema in ("raw", "quarantine"):
        con.execute(f"create schema {schema}")
    land_submissions(con, landing_incoming(landing), parse, "run", months={"2024-08"})
    periods = {p for (p,) in con.execute("select distinct period from raw.submissions").fetchall()}
    assert periods == {"2024-08", "2024"}


def test_worker_processes_land_exactly_what_one_process_lands(generated, tmp_path):
    """Parsing and validating in forked workers changes nothing: same rows, versions, rejects
    and validation outcomes, committed in the same order. Nor does the joined parse (one frame
    per batch, what the ingestion asset uses) against one ParseResult per file."""
    import functools
    import pickle

    from pipelines.ingestion.validation.runner import preload, validate_submissions

    out, summary = generated
    regions = RegionIndex.from_frame(pd.read_csv(out / "region_master.csv", dtype=str, keep_default_na=False))
    per_file = functools.partial(parse_batch, pseudonymiser=Pseudonymiser(b"test-key"), regions=regions)
    joined = functools.partial(parse_batch_joined, pseudonymiser=Pseudonymiser(b"test-key"), regions=regions)
    assert "test-key" not in repr(joined)
    pickle.dumps(joined)  # what crosses to the workers
    specials = sorted({p for paths in summary["special_files"].values() for p in paths})
    landing = _subset(out, tmp_path / "landing", {"child_measurements": 260, "households": 30, "opd_programmes": 6},
                      extra=specials)  # a broken file, missing columns and a revision among them
    preload()
    tables = ["raw.submissions", "raw.child_measurements", "raw.households", "raw.opd_programmes",
              "quarantine.rejected_rows", "quarantine.rejected_files", "raw.submission_validation"]
    contents = []
    for n, (workers, parse) in enumerate(((0, per_file), (0, joined), (2, joined))):
        con = duckdb.connect(str(tmp_path / f"w{n}.duckdb"))
        for schema in ("raw", "quarantine"):
            con.execute(f"create schema {schema}")
        fixed = lambda: pd.Timestamp("2024-09-01").to_pydatetime()  # noqa: E731
        rep = land_submissions(con, landing_incoming(landing), parse, "run", now=fixed,
                               validate=validate_submissions, workers=workers)
        assert rep.landed > 250 and rep.rejected_files >= 1 and not rep.errors
        contents.append({t: con.execute(f"select * from {t} order by all").fetchall() for t in tables})
        con.close()
    for t in tables:
        assert contents[0][t] == contents[1][t] == contents[2][t], t


def test_a_second_run_reads_no_unchanged_landing_file(generated, tmp_path, parse):
    out, _ = generated
    landing = _subset(out, tmp_path / "landing", {"child_measurements": 30, "opd_programmes": 6})
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    for schema in ("raw", "quarantine"):
        con.execute(f"create schema {schema}")
    reads = []

    def counted():
        for inc in landing_incoming(landing):
            fetch = inc.fetch
            inc.fetch = lambda f=fetch, n=inc.file_name: reads.append(n) or f()
            yield inc

    first = land_submissions(con, counted(), parse, "r1")
    assert first.landed == 36 and len(reads) == 36
    reads.clear()
    second = land_submissions(con, counted(), parse, "r2")
    assert second.landed == 0 and second.skipped_known == 36 and reads == []
    # a changed file (new mtime) is read and lands as a new version
    target = sorted((landing / "child_measurements").glob("*.csv"))[0]
    target.write_bytes(target.read_bytes() + b"\r\n")
    third = land_submissions(con, counted(), parse, "r3")
    assert reads == [target.name] and third.landed == 1
