"""What the transports offer (pipelines.ingestion.incoming): a file's name is read once, when its
Incoming is made, and everything after reads the key (or the name error) it carries."""

from __future__ import annotations

import duckdb

from pipelines.ingestion.identity import parse_submission_name, sha256_hex, submission_id
from pipelines.ingestion.incoming import Incoming, landing_incoming, portal_incoming
from pipelines.ingestion.land import land_submissions
from pipelines.sensors import landing_fingerprints
from tests.ingestion.toy_parser import toy_parse

FILES = {
    "child_measurements/36.01.01.2001_2024-08.csv": b"36.01.01.2001\n",
    "child_measurements/36.01.01.2002_2024-07.csv": b"36.01.01.2002\n",
    "child_measurements/laporan agustus.csv": b"36.01.01.2003\n",
    "opd_programmes/DINKES_2024-Q3.json": b"x\n",
}


class CountingNames:
    """parse_submission_name, counting the names it reads."""

    def __init__(self):
        self.names: list[str] = []

    def __call__(self, stream, file_name):
        self.names.append(file_name)
        return parse_submission_name(stream, file_name)


def _landing(root):
    for rel, content in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(content)
    return root


def test_ingestion_reads_each_name_once(tmp_path):
    root = _landing(tmp_path / "landing")
    names = CountingNames()
    con = duckdb.connect()
    report = land_submissions(con, landing_incoming(root, parse_name=names), toy_parse, "run", months={"2024-08"})
    assert sorted(names.names) == sorted(rel.rsplit("/", 1)[1] for rel in FILES)
    # the July file is left to its own month; the badly named one lands (as rejected) in any run
    assert report.landed == 2 and report.rejected_files == 1
    reasons = con.execute("select file_name, reason_code from quarantine.rejected_files").fetchall()
    assert reasons == [("laporan agustus.csv", "bad_file_name")]


def test_the_sensor_reads_each_name_once(tmp_path):
    root = _landing(tmp_path / "landing")
    names = CountingNames()
    _, months = landing_fingerprints(root, {}, parse_name=names)
    assert sorted(names.names) == sorted(rel.rsplit("/", 1)[1] for rel in FILES)
    assert months == {
        "child_measurements/36.01.01.2001_2024-08.csv": "2024-08",
        "child_measurements/36.01.01.2002_2024-07.csv": "2024-07",
        "child_measurements/laporan agustus.csv": None,
        "opd_programmes/DINKES_2024-Q3.json": "2024-07",
    }


class FakePortal:
    def __init__(self, items):
        self.items, self.downloads = items, []

    def list_submissions(self, stream=None, updated_since=None):
        return [i for i in self.items if i["stream"] == stream]

    def download(self, item):
        self.downloads.append(item["file_name"])
        return b"x\n"


def test_portal_items_are_named_once_and_carry_their_listed_hash():
    client = FakePortal([
        {"stream": "households", "file_name": "36.01.01.2001_2024.csv", "sha256": "ab" * 32,
         "updated_at": "2024-09-01T10:00:00Z"},
        {"stream": "households", "file_name": "no period.csv", "sha256": "cd" * 32, "updated_at": None},
    ])
    names = CountingNames()
    good, bad = portal_incoming(client, streams=["households"], parse_name=names)
    assert names.names == ["36.01.01.2001_2024.csv", "no period.csv"]
    assert good.key.period == "2024" and good.name_error is None and good.sha256 == "ab" * 32
    assert good.received_at.isoformat() == "2024-09-01T10:00:00" and good.partition == "2024-01"
    assert bad.key is None and "no period.csv" in bad.name_error and bad.received_at is None
    assert client.downloads == []  # nothing fetched until asked
    assert good.fetch() == b"x\n" and client.downloads == ["36.01.01.2001_2024.csv"]


def test_what_the_name_tells_decides_month_and_id():
    sha = sha256_hex(b"x")
    named = Incoming("child_measurements", "36.01.01.2001_2024-08.csv", "landing", None, bytes)
    assert named.key.submitter_code == "36.01.01.2001" and named.period == "2024-08"
    assert named.partition == "2024-08"
    assert named.lands_in({"2024-08"}) and not named.lands_in({"2024-07"}) and named.lands_in(None)
    assert named.submission_id(sha) == submission_id("child_measurements", "36.01.01.2001", "2024-08", sha)
    unnamed = Incoming("child_measurements", "laporan.csv", "landing", None, bytes)
    assert unnamed.key is None and unnamed.name_error and unnamed.partition is None
    assert unnamed.lands_in({"2024-07"})  # no period: every run lands (quarantines) it
    assert unnamed.submission_id(sha).startswith("chi-x") and unnamed.submission_id(sha) != named.submission_id(sha)
