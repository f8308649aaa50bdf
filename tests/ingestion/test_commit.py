"""Committing a prepared batch (pipelines.ingestion.commit): one transaction per batch, versions
numbered per stream, submitter and period, counts reported."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from pipelines import tables
from pipelines.ingestion.batches import Pending, prepare_batch
from pipelines.ingestion.commit import Ledger, commit_batch
from pipelines.ingestion.identity import sha256_hex
from pipelines.ingestion.incoming import Incoming
from pipelines.ingestion.report import IngestReport
from tests.ingestion.toy_parser import toy_parse

NOW = dt.datetime(2024, 9, 1, 12)


def _pending(name: str, content: bytes) -> Pending:
    inc = Incoming("child_measurements", name, "landing", NOW, lambda: content)
    sha = sha256_hex(content)
    return Pending(inc, content, sha, inc.submission_id(sha))


def _commit(con, batch: list[Pending], report=None, ledger=None):
    prepared = prepare_batch("child_measurements", [p.item for p in batch], toy_parse, None)
    report = report or IngestReport()
    commit_batch(con, batch, prepared, "run-1", NOW, report, ledger or Ledger.load(con))
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
        ("bad_file_name",), ("undecodable",)]
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
