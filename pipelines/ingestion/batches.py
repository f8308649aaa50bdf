"""Batches of submissions: which files go together, and parsing plus validating one batch.

Files are parsed and landed together: the parser is vectorised across files, and one
transaction per batch keeps every submission whole (all of it lands, or none of it). Preparing a
batch (:func:`prepare_batch`) is pure CPU work on bytes: no DuckDB, so it can run in a worker
process (:mod:`pipelines.ingestion.workers`). It also gives an unnamed file (its name tells no
submitter or period) its identity and submission id, from what the parser read in its rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from pipelines.ingestion.identity import (
    SubmissionKey,
    file_format_of,
    submission_id,
    unidentified_submission_id,
)
from pipelines.ingestion.incoming import Incoming
from pipelines.parsing.file_identity import FileHints
from pipelines.parsing.parse import BatchParse

log = logging.getLogger(__name__)

BATCH_FILES = 1000
BATCH_BYTES = 16 * 1024 * 1024



class Item(NamedTuple):
    """What a worker needs of one file (small: the bytes, and a few strings)."""

    sid: str | None  # None: an unnamed file, whose id its rows will tell
    file_name: str
    content: bytes
    name_error: str | None  # a name refused outright: not parsed
    sha: str
    hints: FileHints


@dataclass
class Pending:
    """A new submission fetched and waiting for its batch."""

    inc: Incoming
    content: bytes
    sha: str
    sid: str | None  # None until an unnamed file's rows told who sent it and for which period

    @property
    def item(self) -> Item:
        return Item(self.sid, self.inc.file_name, self.content, self.inc.name_error, self.sha, self.inc.hints)


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
    """What parsing and validating a batch produced (picklable: it may come from a worker).

    ``sids`` and ``keys`` follow the batch's order: every file's submission id, and the key of a
    file identified from its rows (None where the name or listing told it, or nothing did).
    """

    sids: list[str]
    keys: list[SubmissionKey | None]
    errors: dict[str, str | None]  # sid -> file error, None when the file was read
    results: dict[str, tuple[int, int, int]]  # sid -> (rows accepted, rows read, rows rejected)
    rows: pd.DataFrame | None  # accepted rows of every file, with submission_id
    rejects: pd.DataFrame | None  # rejected cells of every file, with submission_id
    validation: pd.DataFrame | None


def _joined(result) -> BatchParse:
    return result if isinstance(result, BatchParse) else BatchParse.from_results(list(result))


def parse_safely(stream: str, todo: list[tuple[str, bytes]], hints: list[FileHints], parse_many) -> BatchParse:
    """All files of ``todo`` parsed with their ``hints`` (``parse_many(stream, files, hints)`` may
    return a BatchParse or one ParseResult per file); a parser crash on the batch falls back to one
    file at a time so that one bad file cannot take the others down with it."""
    if not todo:
        return BatchParse.from_results([])
    try:
        return _joined(parse_many(stream, todo, hints))
    except Exception:  # noqa: BLE001
        log.exception("batch parse failed for %s; retrying file by file", stream)
    parts = []
    for i, item in enumerate(todo):
        try:
            part = _joined(parse_many(stream, [item], [hints[i]]))
        except Exception as exc:  # noqa: BLE001 - a parser bug must not lose the submission
            part = BatchParse(pd.DataFrame(), np.zeros(0, "int64"), pd.DataFrame(), np.zeros(0, "int64"),
                              [f"parser_error: {type(exc).__name__}"], [0], [[]])
        parts.append((np.array([i]), part))
    return BatchParse.combine(parts, len(todo))


def _identified(stream: str, items: list[Item], parsed: BatchParse) -> tuple[list[str], list[SubmissionKey | None]]:
    """The submission id of every parsed file, and the key of those identified from their rows:
    an unnamed file's id derives from what its rows told like a well-named file's (so a corrected
    re-export under another name is the next version), or from its name and bytes when refused."""
    sids, keys = [], []
    for item, identity in zip(items, parsed.identities, strict=True):
        key = None
        if item.sid is not None:
            sid = item.sid
        elif identity is None:
            sid = unidentified_submission_id(stream, item.file_name, item.sha)
        else:
            key = SubmissionKey(stream, identity.submitter_level, identity.submitter_code, identity.period,
                                file_format_of(item.file_name))
            sid = submission_id(stream, identity.submitter_code, identity.period, item.sha)
        sids.append(sid)
        keys.append(key)
    return sids, keys


def _file_outcomes(items: list[Item], all_sids: list[str], sids: list[str], parsed: BatchParse):
    """Per submission, in batch order: its file error (None when read), and for the files read
    ``(rows accepted, rows read, rows rejected)``."""
    errors: dict[str, str | None] = {sid: it.name_error for sid, it in zip(all_sids, items, strict=True)
                                     if it.name_error is not None}
    n_acc = np.bincount(parsed.row_files, minlength=len(sids))
    rejected_rows = (pd.DataFrame({"f": parsed.reject_files, "r": parsed.rejects["row_number"].to_numpy()})
                     .drop_duplicates()["f"].to_numpy(dtype="int64") if len(parsed.rejects) else np.zeros(0, "int64"))
    n_rej = np.bincount(rejected_rows, minlength=len(sids))
    results: dict[str, tuple[int, int, int]] = {}
    for f, sid in enumerate(sids):
        errors[sid] = parsed.file_errors[f]
        if parsed.file_errors[f] is None:
            results[sid] = (int(n_acc[f]), int(parsed.n_source_rows[f]), int(n_rej[f]))
    return {sid: errors[sid] for sid in all_sids}, results


def prepare_batch(stream: str, items: list[Item], parse_many, validate) -> Prepared:
    """Parse and validate one batch: pure CPU work, run in a worker process when there is a pool.

    A file whose name was refused is not parsed; its name error is its file error.
    """
    todo = [it for it in items if it.name_error is None]
    parsed = parse_safely(stream, [(it.file_name, it.content) for it in todo], [it.hints for it in todo],
                          parse_many)
    parsed_sids, parsed_keys = _identified(stream, todo, parsed)
    found = iter(zip(parsed_sids, parsed_keys, strict=True))
    all_sids, keys = [], []
    for it in items:
        sid, key = next(found) if it.name_error is None else (it.sid, None)
        all_sids.append(sid)
        keys.append(key)
    sids = np.array(parsed_sids or [], dtype=object)
    errors, results = _file_outcomes(items, all_sids, sids.tolist(), parsed)
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
    return Prepared(all_sids, keys, errors, results, rows, rejects, validation)
