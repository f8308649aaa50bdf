"""What the transports offer (pipelines.ingestion.incoming): a file's name is read once, when its
Incoming is made, and everything after reads the key (or the name error) it carries; a file named
otherwise is unnamed: its rows, or the portal's listing, tell who sent it and for which period."""

from __future__ import annotations

import duckdb

from pipelines.ingestion.identity import SubmissionKey, parse_submission_name, sha256_hex, submission_id
from pipelines.ingestion.incoming import Incoming, landing_incoming, portal_incoming
from pipelines.ingestion.land import land_submissions
from pipelines.parsing.file_identity import FileHints
from pipelines.periods import ALL_MONTHS
from pipelines.sensors import landing_fingerprints
from tests.ingestion.toy_parser import toy_parse

FILES = {
    "child_measurements/36.01.01.2001_2024-08.csv": b"36.01.01.2001\n",
    "child_measurements/36.01.01.2002_2024-07.csv": b"36.01.01.2002\n",
    "child_measurements/laporan agustus.csv": b"@36.01.01.2003 2024-08\n1\n",
    "child_measurements/laporan juli.csv": b"@36.01.01.2003 2024-07\n1\n",
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
    # the July files are left to their month: the named one not even read, the unnamed one read
    # (its rows tell July) and left unfingerprinted for a run that covers July
    assert report.landed == 3 and report.rejected_files == 0
    assert report.deferred == ["child_measurements/laporan juli.csv (36.01.01.2003, 2024-07)"]
    landed = con.execute("select file_name, submitter_code, period from raw.submissions order by 1").fetchall()
    assert landed == [("36.01.01.2001_2024-08.csv", "36.01.01.2001", "2024-08"),
                      ("DINKES_2024-Q3.json", "DINKES", "2024-Q3"),
                      ("laporan agustus.csv", "36.01.01.2003", "2024-08")]
    remembered = {p for (p,) in con.execute("select path from raw.landing_fingerprints").fetchall()}
    assert "child_measurements/laporan juli.csv" not in remembered
    assert "child_measurements/laporan agustus.csv" in remembered
    july = land_submissions(con, landing_incoming(root), toy_parse, "run2", months={"2024-07"})
    assert july.landed == 2 and july.deferred == []  # the named and the unnamed July file


def test_the_sensor_reads_each_name_once(tmp_path):
    root = _landing(tmp_path / "landing")
    names = CountingNames()
    _, months = landing_fingerprints(root, {}, parse_name=names)
    assert sorted(names.names) == sorted(rel.rsplit("/", 1)[1] for rel in FILES)
    assert months == {
        "child_measurements/36.01.01.2001_2024-08.csv": "2024-08",
        "child_measurements/36.01.01.2002_2024-07.csv": "2024-07",
        "child_measurements/laporan agustus.csv": ALL_MONTHS,  # its rows tell: the sensor asks for all
        "child_measurements/laporan juli.csv": ALL_MONTHS,
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
        # a badly named upload whose form told submitter and period: the listing's metadata names it
        {"stream": "households", "file_name": "P3KE Cikande.xlsx", "sha256": "ef" * 32, "updated_at": None,
         "submitter_code": "36.04.15", "period": "2024"},
        # metadata that is not of the stream's kind is not trusted: the rows will tell
        {"stream": "households", "file_name": "P3KE lain.csv", "sha256": "01" * 32, "updated_at": None,
         "submitter_code": "DINKES", "period": "2024-08"},
    ])
    names = CountingNames()
    good, bad, listed, wrong = portal_incoming(client, streams=["households"], parse_name=names)
    assert names.names == ["36.01.01.2001_2024.csv", "no period.csv", "P3KE Cikande.xlsx", "P3KE lain.csv"]
    assert good.key.period == "2024" and good.name_error is None and good.sha256 == "ab" * 32
    assert good.received_at.isoformat() == "2024-09-01T10:00:00" and good.partition == "2024-01"
    assert bad.key is None and bad.name_error is None and bad.unnamed and bad.received_at is None
    assert listed.key == SubmissionKey("households", "district", "36.04.15", "2024", "xlsx") and not listed.unnamed
    assert listed.submission_id("ef" * 32) == submission_id("households", "36.04.15", "2024", "ef" * 32)
    assert wrong.key is None and wrong.unnamed
    assert client.downloads == []  # nothing fetched until asked
    assert good.fetch() == b"x\n" and client.downloads == ["36.01.01.2001_2024.csv"]


def test_what_the_name_tells_decides_month_and_id():
    sha = sha256_hex(b"x")
    named = Incoming("child_measurements", "36.01.01.2001_2024-08.csv", "landing", None, bytes)
    assert named.key.submitter_code == "36.01.01.2001" and named.period == "2024-08"
    assert named.partition == "2024-08" and named.hints == FileHints("36.01.01.2001", "2024-08", None)
    assert named.lands_in({"2024-08"}) and not named.lands_in({"2024-07"}) and named.lands_in(None)
    assert named.submission_id(sha) == submission_id("child_measurements", "36.01.01.2001", "2024-08", sha)
    district = Incoming("child_measurements", "36.01.01_2024-08.csv", "landing", None, bytes)
    assert (district.key.submitter_level, district.key.submitter_code) == ("district", "36.01.01")
    unnamed = Incoming("child_measurements", "Data Pengukuran Balita Agustus 2024.csv", "landing", None, bytes)
    assert unnamed.key is None and unnamed.name_error is None and unnamed.partition == ALL_MONTHS
    assert unnamed.lands_in({"2024-07"})  # any run parses it; its rows decide whether it lands
    assert unnamed.submission_id(sha) is None and unnamed.hints == FileHints()
    unsafe = Incoming("child_measurements", "36.01.01.2001_2024-08\x07.csv", "landing", None, bytes)
    assert unsafe.key is None and "unsafe" in unsafe.name_error and unsafe.partition is None
    assert unsafe.lands_in({"2024-07"})  # refused by any run
    assert unsafe.submission_id(sha).startswith("chi-x") and unsafe.submission_id(sha) != named.submission_id(sha)
