"""Batches (pipelines.ingestion.batches): which files go together, and parsing plus validating
one batch, pure CPU work on bytes."""

from __future__ import annotations

import pandas as pd

from pipelines.ingestion import batches
from pipelines.ingestion.batches import Batcher, Counts, Item, Pending, prepare_batch
from pipelines.ingestion.identity import SubmissionKey, sha256_hex, submission_id, unidentified_submission_id
from pipelines.ingestion.incoming import Incoming
from pipelines.parsing.file_identity import FileHints
from tests.ingestion.toy_parser import toy_parse

HINTS = FileHints("36.01.01.2001", "2024")


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


def _item(sid, name, content, name_error=None, hints=None) -> Item:
    return Item(sid, name, content, name_error, sha256_hex(content), hints or FileHints())


def test_one_crashing_file_does_not_take_the_batch_down():
    items = [
        _item("s1", "a.csv", b"1\nreject\nnull", hints=HINTS),
        _item("s2", "b.csv", b"crash", hints=HINTS),
        _item("s3", "c.csv", b"bad", hints=HINTS),
        _item("s4", "laporan\x07.csv", b"1", "'laporan\\x07.csv': unsafe file name"),
        _item("s5", "e.csv", b"3", hints=HINTS),
    ]
    seen = []

    def validate(stream, rows, sids):
        seen.append((stream, sorted(set(rows["submission_id"])), sids))
        return pd.DataFrame({"submission_id": sids, "success": True})

    prepared = prepare_batch("households", items, toy_parse, validate)
    assert prepared.errors == {"s1": None, "s2": "parser_error: RuntimeError", "s3": "undecodable: toy",
                               "s4": "'laporan\\x07.csv': unsafe file name", "s5": None}
    assert list(prepared.errors) == prepared.sids == ["s1", "s2", "s3", "s4", "s5"]  # batch order
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


def test_a_refused_name_is_not_parsed_or_validated():
    def never(*_):
        raise AssertionError("called")

    prepared = prepare_batch("households", [_item("s1", "x\x07.csv", b"1", "unsafe")], never, never)
    assert prepared.errors == {"s1": "unsafe"} and prepared.results == {} and prepared.keys == [None]
    assert prepared.rows is None and prepared.rejects is None and prepared.validation is None


def test_an_unnamed_file_gets_the_id_of_what_its_rows_tell():
    """The id of a file named otherwise derives from its rows' submitter and period like a
    well-named file's; one whose rows tell none is refused under an id of its name and bytes."""
    told = _item(None, "Data Pengukuran Agustus.csv", b"@36.01.01 2024-08\n1\n2")
    silent = _item(None, "Data Juli.csv", b"1\n2")
    named = _item("s-named", "36.01.01.2001_2024-08.csv", b"1", hints=FileHints("36.01.01.2001", "2024-08"))
    prepared = prepare_batch("child_measurements", [told, silent, named], toy_parse, None)
    expected = submission_id("child_measurements", "36.01.01", "2024-08", told.sha)
    assert prepared.sids == [expected, unidentified_submission_id("child_measurements", "Data Juli.csv", silent.sha),
                             "s-named"]
    assert prepared.keys[0] == SubmissionKey("child_measurements", "district", "36.01.01", "2024-08", "csv")
    assert prepared.keys[1:] == [None, None]
    assert prepared.errors[prepared.sids[1]].startswith("submitter_unknown")
    assert prepared.results[expected] == Counts(2, 2, 0)
    assert prepared.rows["submission_id"].tolist() == [expected, expected, "s-named"]


def test_an_item_travels_with_its_bytes_out_of_band_and_arrives_as_bytes():
    """Pickled as Dask pickles a task (protocol 5, buffers collected), a file's bytes go as a buffer
    of their own, not copied into the pickle; unpickled, the item is equal with ``bytes`` content.
    Older protocols carry the bytes in the pickle, and give the same item back."""
    import pickle

    from distributed.protocol.pickle import dumps, loads

    content = b"Kode Desa;Nama Anak\n" + b"3601012001;x\n" * 50_000
    items = [Item("s1", "a.csv", content, None, "0" * 64, FileHints()), Item(None, "b.csv", b"", "bad", "1" * 64,
                                                                               FileHints())]
    buffers: list = []
    stream = dumps(items, buffer_callback=buffers.append)
    assert len(stream) < 10_000 and [len(memoryview(b)) for b in buffers] == [len(content), 0]
    back = loads(stream, buffers=[memoryview(bytearray(memoryview(b))) for b in buffers])
    assert back == items and [type(i) for i in back] == [Item, Item]
    assert all(type(i.content) is bytes for i in back)
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        again = pickle.loads(pickle.dumps(items[0], protocol=protocol))
        assert again == items[0] and type(again.content) is bytes
