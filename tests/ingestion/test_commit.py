"""Committing a prepared batch (pipelines.ingestion.commit): one transaction per batch, versions
numbered per stream, submitter and period, counts reported."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from pipelines import tables
from pipelines.ingestion.batches import Pending, prepare_batch
from pipelines.ingestion.commit import Ledger, commit_batch
from pipelines.ingestion.identity import sha256_hex, submission_id
from pipelines.ingestion.incoming import Incoming
from pipelines.ingestion.report import IngestReport
from tests.ingestion.toy_parser import toy_parse

NOW = dt.datetime(2024, 9, 1, 12)


def _pending(name: str, content: bytes) -> Pending:
    inc = Incoming("child_measurements", name, "landing", NOW, lambda: content)
    sha = sha256_hex(content)
    return Pending(inc, content, sha, inc.submission_id(sha))


def _commit(con, batch: list[Pending], report=None, ledger=None, months=None, spool=None):
    prepared = prepare_batch("child_measurements", [p.item for p in batch], toy_parse, None)
    if spool is not None:  # the rows as a Dask worker's batch reaches the writer: Arrow, from the spool
        from pipelines.ingestion.engine import _read_rows, _write_rows

        prepared = _read_rows(_write_rows(prepared, str(spool), "batch"))
    report = report or IngestReport()
    report.held = commit_batch(con, batch, prepared, "run-1", NOW, report, ledger or Ledger.load(con), months)
    return report


def _count(con, table: str) -> int:
    return con.execute(f"select count(*) from {table}").fetchall()[0][0]


@pytest.fixture
def con():
    con = duckdb.connect()
    tables.ensure_all(con, tables.INGESTION_TABLES)
    return con


def test_a_batch_lands_with_versions_rejects_and_counts(con):
    batch = [_pending("36.01.01.2001_2024-08.csv", b"1\nreject\nnull"), _pending("36.01.01.2002_2024-08.csv", b"bad"),
             _pending("laporan.csv", b"1")]
    report = _commit(con, batch)
    assert (report.landed, report.rejected_files, report.rows_accepted, report.rows_rejected) == (1, 2, 2, 1)
    assert report.values_nulled == 1
    assert report.by_stream["child_measurements"] == {"submissions": 1, "rows_accepted": 2, "rows_rejected": 1,
                                                      "values_nulled": 1, "files_rejected": 2}
    rows = con.execute("select file_name, status, version, n_source_rows, n_rows_accepted, n_rows_rejected, "
                       "n_values_nulled from raw.submissions order by file_name").fetchall()
    assert rows == [("36.01.01.2001_2024-08.csv", "accepted", 1, 3, 2, 1, 1),
                    ("36.01.01.2002_2024-08.csv", "rejected_file", None, 0, 0, 0, None),
                    ("laporan.csv", "rejected_file", None, 0, 0, 0, None)]
    assert con.execute("select file_name, row_number, column_name, original_value, run_id "
                       "from quarantine.rejected_values").fetchall() == [
        ("36.01.01.2001_2024-08.csv", 4, "village_code", "x", "run-1")]
    assert sorted(con.execute("select reason_code from quarantine.rejected_files").fetchall()) == [
        ("submitter_unknown",), ("undecodable",)]  # laporan.csv: neither its name nor its rows tell
    assert _count(con, "raw.child_measurements") == 2 and _count(con, "quarantine.rejected_rows") == 1
    # a corrected file of the same village and month is the next version, after what is landed
    _commit(con, [_pending("36.01.01.2001_2024-08_revisi.csv", b"1\n2\n3")])
    assert con.execute("select max(version) from raw.submissions").fetchall() == [(2,)]


class FailingAt:
    """A DuckDB connection whose insert into ``table`` fails (after the others ran)."""

    def __init__(self, con, table: str):
        self._con, self._table = con, table

    def execute(self, sql, *args):
        if sql.startswith("insert into " + self._table):
            raise duckdb.IOException("disk full")
        return self._con.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._con, name)


def test_a_failed_commit_leaves_nothing_of_the_batch(con):
    batch = [_pending("36.01.01.2001_2024-08.csv", b"1\nreject\nnull"), _pending("36.01.01.2002_2024-08.csv", b"bad")]
    with pytest.raises(duckdb.IOException):
        _commit(FailingAt(con, "raw.submissions"), batch)
    for table in ("raw.submissions", "raw.child_measurements", "quarantine.rejected_rows",
                  "quarantine.rejected_values", "quarantine.rejected_files"):
        assert _count(con, table) == 0, table
    _commit(con, batch)  # and the connection is usable: the batch lands whole on a retry
    assert _count(con, "raw.submissions") == 2 and _count(con, "raw.child_measurements") == 2


def test_the_ledger_knows_ids_hashes_and_versions(con):
    p = _pending("36.01.01.2001_2024-08.csv", b"1")
    _commit(con, [p])
    ledger = Ledger.load(con)
    assert ledger.landed("child_measurements", p.sha, p.sid)
    assert not ledger.landed("households", p.sha, p.sid)
    assert ledger.next_version("child_measurements", "36.01.01.2001", "2024-08") == 2
    assert ledger.next_version("child_measurements", "36.01.01.2001", "2024-07") == 1


def test_a_re_export_under_another_name_is_the_next_version_of_the_same_submission(con):
    first = _pending("Data Pengukuran Kab Pandeglang Agustus.csv", b"@36.01 2024-08\n1\n2\n3")
    _commit(con, [first])
    again = _pending("pandeglang agustus (revisi).csv", b"@36.01 2024-08\n1\n2\n4")
    report = _commit(con, [again])
    assert report.landed == 1
    rows = con.execute("select file_name, submitter_level, submitter_code, period, version from raw.submissions "
                       "order by version").fetchall()
    assert rows == [("Data Pengukuran Kab Pandeglang Agustus.csv", "regency", "36.01", "2024-08", 1),
                    ("pandeglang agustus (revisi).csv", "regency", "36.01", "2024-08", 2)]
    ids = [sid for (sid,) in con.execute("select submission_id from raw.submissions order by version").fetchall()]
    assert ids == [submission_id("child_measurements", "36.01", "2024-08", p.sha) for p in (first, again)]


@pytest.mark.parametrize("spooled", [False, True], ids=["in-process", "spooled-arrow"])
def test_an_unnamed_file_outside_the_run_s_months_is_held_back_whole(con, spooled, tmp_path):
    july = _pending("Data Juli.csv", b"@36.01.01 2024-07\n1\nreject")
    august = _pending("Data Agustus.csv", b"@36.01.01 2024-08\n1")
    named = _pending("36.01.01.2001_2024-08.csv", b"1")
    report = _commit(con, [july, august, named], months={"2024-08"}, spool=tmp_path if spooled else None)
    assert report.held == [july] and report.deferred == ["child_measurements/Data Juli.csv (36.01.01, 2024-07)"]
    assert sorted(f for (f,) in con.execute("select file_name from raw.submissions").fetchall()) == [
        "36.01.01.2001_2024-08.csv", "Data Agustus.csv"]
    assert _count(con, "raw.child_measurements") == 2 and _count(con, "quarantine.rejected_rows") == 0
    report = _commit(con, [july], months={"2024-07"})  # a run that covers July lands it
    assert report.held == [] and report.landed == 1 and _count(con, "quarantine.rejected_rows") == 1


def test_content_refused_only_for_its_name_is_read_again(con):
    """A file refused as bad_file_name (before names stopped being required) is not settled: its
    bytes are read once more, under the identity its rows tell; content that landed is settled."""
    content = b"@36.01 2024-08\n1"
    sha = sha256_hex(content)
    old = Incoming("child_measurements", "laporan.csv", "landing", NOW, bytes, name_error="'laporan.csv': expected "
                   "<submitter_code>_<period>", name_read=True)
    _commit(con, [Pending(old, content, sha, old.submission_id(sha))])
    assert con.execute("select reason_code from quarantine.rejected_files").fetchall() == [("bad_file_name",)]
    assert not Ledger.load(con).landed("child_measurements", sha, None)
    _commit(con, [_pending("laporan.csv", content)])
    assert con.execute("select status, submitter_code, period from raw.submissions order by status").fetchall() == [
        ("accepted", "36.01", "2024-08"), ("rejected_file", None, None)]
    assert Ledger.load(con).landed("child_measurements", sha, None)
