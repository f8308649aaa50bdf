"""Batches (pipelines.ingestion.batches): which files go together, and parsing plus validating
one batch, pure CPU work on bytes."""

from __future__ import annotations

import pandas as pd

from pipelines.ingestion import batches
from pipelines.ingestion.batches import Batcher, Counts, Pending, prepare_batch
from pipelines.ingestion.incoming import Incoming
from tests.ingestion.toy_parser import toy_parse


def _pending(stream: str, name: str, content: bytes) -> Pending:
    return Pending(Incoming(stream, name, "landing", None, lambda: content), content, "sha", name)


def test_a_batch_ends_at_another_stream_or_when_full(monkeypatch):
    monkeypatch.setattr(batches, "BATCH_FILES", 2)
    monkeypatch.setattr(batches, "BATCH_BYTES", 10)
    b = Batcher()
    first = _pending("households", "36.01.01.2001_2024.csv", b"1\n")
    assert not b.full_before(first.inc)  # an empty batch is never full
    b.add(first)
    assert not b.full_before(_pending("households", "36.01.01.2002_2024.csv", b"").inc)
    assert b.full_before(_pending("aksi_reports", "36.01_2024.csv", b"").inc)
    b.add(_pending("households", "36.01.01.2002_2024.csv", b"2\n"))
    assert b.full_before(_pending("households", "36.01.01.2003_2024.csv", b"").inc)  # 2 files
    assert [p.sid for p in b.take()] == ["36.01.01.2001_2024.csv", "36.01.01.2002_2024.csv"]
    assert b.take() == [] and b.bytes == 0
    b.add(_pending("households", "36.01.01.2004_2024.csv", b"x" * 10))
    assert b.full_before(_pending("households", "36.01.01.2005_2024.csv", b"").inc)  # 10 bytes


def test_one_crashing_file_does_not_take_the_batch_down():
    items = [
        ("s1", "a.csv", b"1\nreject\nnull", None),
        ("s2", "b.csv", b"crash", None),
        ("s3", "c.csv", b"bad", None),
        ("s4", "laporan.csv", b"1", "'laporan.csv': expected <submitter_code>_<period>"),
        ("s5", "e.csv", b"3", None),
    ]
    seen = []

    def validate(stream, rows, sids):
        seen.append((stream, sorted(set(rows["submission_id"])), sids))
        return pd.DataFrame({"submission_id": sids, "success": True})

    prepared = prepare_batch("households", items, toy_parse, validate)
    assert prepared.errors == {"s1": None, "s2": "parser_error: RuntimeError", "s3": "undecodable: toy",
                               "s4": "'laporan.csv': expected <submitter_code>_<period>", "s5": None}
    assert list(prepared.errors) == ["s1", "s2", "s3", "s4", "s5"]  # batch order
    assert prepared.results == {"s1": Counts(2, 3, 1, 1), "s5": Counts(1, 1, 0, 0)}
    assert prepared.rows["submission_id"].tolist() == ["s1", "s1", "s5"]
    assert prepared.rejects[["submission_id", "row_number", "column_name"]].values.tolist() == [
        ["s1", 3, "village_code"]]
    # the row that lost a value landed; its value goes to quarantine.rejected_values, not with the rows
    assert prepared.nulled[["submission_id", "row_number", "column_name", "original_value"]].values.tolist() == [
        ["s1", 4, "village_code", "x"]]
    assert list(prepared.nulled.columns) == batches.REJECTED_VALUE_COLUMNS
    assert list(prepared.rejects.columns) == batches.REJECTED_ROW_COLUMNS
    assert seen == [("households", ["s1", "s5"], ["s1", "s5"])]
    assert prepared.validation["submission_id"].tolist() == ["s1", "s5"]


def test_a_batch_of_badly_named_files_is_not_parsed_or_validated():
    def never(*_):
        raise AssertionError("called")

    prepared = prepare_batch("households", [("s1", "x.csv", b"1", "bad name")], never, never)
    assert prepared.errors == {"s1": "bad name"} and prepared.results == {}
    assert prepared.rows is None and prepared.rejects is None and prepared.validation is None
