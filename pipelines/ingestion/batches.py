"""Batches of submissions: which files go together, and parsing plus validating one batch.

Files are parsed and landed together: the parser is vectorised across files, and one
transaction per batch keeps every submission whole (all of it lands, or none of it). Preparing a
batch (:func:`prepare_batch`) is pure CPU work on bytes: no DuckDB, so it can run in a worker
process (:mod:`pipelines.ingestion.workers`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.ingestion.incoming import Incoming
from pipelines.parsing.parse import BatchParse

log = logging.getLogger(__name__)

BATCH_FILES = 1000
BATCH_BYTES = 16 * 1024 * 1024

# (submission_id, file_name, content, name_error): what a worker needs of one file
Item = tuple[str, str, bytes, str | None]


@dataclass
class Pending:
    """A new submission fetched and waiting for its batch."""

    inc: Incoming
    content: bytes
    sha: str
    sid: str

    @property
    def item(self) -> Item:
        return self.sid, self.inc.file_name, self.content, self.inc.name_error


class Batcher:
    """Collects pending submissions of one stream until a batch is full."""

    def __init__(self) -> None:
        self.pending: list[Pending] = []
        self.bytes = 0

    def full_before(self, inc: Incoming) -> bool:
        """Whether the batch so far must go before ``inc`` is considered: another stream, or
        :data:`BATCH_FILES` files or :data:`BATCH_BYTES` bytes reached."""
        return bool(self.pending) and (inc.stream != self.pending[0].inc.stream or len(self.pending) >= BATCH_FILES
                                       or self.bytes >= BATCH_BYTES)

    def add(self, pending: Pending) -> None:
        self.pending.append(pending)
        self.bytes += len(pending.content)

    def take(self) -> list[Pending]:
        batch, self.pending, self.bytes = self.pending, [], 0
        return batch


@dataclass
class Prepared:
    """What parsing and validating a batch produced (picklable: it may come from a worker)."""

    errors: dict[str, str | None]  # sid -> file error, None when the file was read
    results: dict[str, tuple[int, int, int]]  # sid -> (rows accepted, rows read, rows rejected)
    rows: pd.DataFrame | None  # accepted rows of every file, with submission_id
    rejects: pd.DataFrame | None  # rejected cells of every file, with submission_id
    validation: pd.DataFrame | None


def _joined(result) -> BatchParse:
    return result if isinstance(result, BatchParse) else BatchParse.from_results(list(result))


def parse_safely(stream: str, todo: list[tuple[str, bytes]], parse_many) -> BatchParse:
    """All files of ``todo`` parsed (``parse_many`` may return a BatchParse or one ParseResult
    per file); a parser crash on the batch falls back to one file at a time so that one bad file
    cannot take the others down with it."""
    if not todo:
        return BatchParse.from_results([])
    try:
        return _joined(parse_many(stream, todo))
    except Exception:  # noqa: BLE001
        log.exception("batch parse failed for %s; retrying file by file", stream)
    parts = []
    for i, item in enumerate(todo):
        try:
            part = _joined(parse_many(stream, [item]))
        except Exception as exc:  # noqa: BLE001 - a parser bug must not lose the submission
            part = BatchParse(pd.DataFrame(), np.zeros(0, "int64"), pd.DataFrame(), np.zeros(0, "int64"),
                              [f"parser_error: {type(exc).__name__}"], [0], [[]])
        parts.append((np.array([i]), part))
    return BatchParse.combine(parts, len(todo))


def _file_outcomes(items: list[Item], sids: list[str], parsed: BatchParse):
    """Per submission, in batch order: its file error (None when read), and for the files read
    ``(rows accepted, rows read, rows rejected)``."""
    errors: dict[str, str | None] = {sid: err for sid, _, _, err in items if err is not None}
    n_acc = np.bincount(parsed.row_files, minlength=len(sids))
    rejected_rows = (pd.DataFrame({"f": parsed.reject_files, "r": parsed.rejects["row_number"].to_numpy()})
                     .drop_duplicates()["f"].to_numpy(dtype="int64") if len(parsed.rejects) else np.zeros(0, "int64"))
    n_rej = np.bincount(rejected_rows, minlength=len(sids))
    results: dict[str, tuple[int, int, int]] = {}
    for f, sid in enumerate(sids):
        errors[sid] = parsed.file_errors[f]
        if parsed.file_errors[f] is None:
            results[sid] = (int(n_acc[f]), int(parsed.n_source_rows[f]), int(n_rej[f]))
    return {sid: errors[sid] for sid, _, _, _ in items}, results


def prepare_batch(stream: str, items: list[Item], parse_many, validate) -> Prepared:
    """Parse and validate one batch: pure CPU work, run in a worker process when there is a pool.

    A file whose name was rejected is not parsed; its name error is its file error.
    """
    named = [(sid, name, c) for sid, name, c, err in items if err is None]
    parsed = parse_safely(stream, [(name, c) for _, name, c in named], parse_many)
    sids = np.array([sid for sid, _, _ in named] or [], dtype=object)
    errors, results = _file_outcomes(items, sids.tolist(), parsed)
    rows = rejects = None
    if len(parsed.rows):
        rows = parsed.rows
        rows.insert(0, "submission_id", sids[parsed.row_files])
    if len(parsed.rejects):
        rejects = parsed.rejects.rename(columns={"column": "column_name"})
        rejects.insert(0, "submission_id", sids[parsed.reject_files])
    validation = None
    accepted = [sid for sid, err in errors.items() if err is None]
    if validate is not None and accepted:
        frame = rows if rows is not None else pd.DataFrame({"submission_id": [], "row_number": []})
        validation = validate(stream, frame, accepted)
    return Prepared(errors, results, rows, rejects, validation)
