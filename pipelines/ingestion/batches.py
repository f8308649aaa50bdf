"""Batches of submissions: which files go together, and parsing plus validating one batch.

Files are parsed and landed together: the parser is vectorised across files, and one
transaction per batch keeps every submission whole (all of it lands, or none of it). Preparing a
batch (:func:`prepare_batch`) is pure CPU work on bytes: no DuckDB, so it can run in a worker
process (:mod:`pipelines.ingestion.workers`). It also gives an unnamed file (its name tells no
submitter or period) its identity and submission id, from what the parser read in its rows.
"""

from __future__ import annotations

import logging
import pickle
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
# Each batch is one Great Expectations run (~0.13 s fixed cost): 32 MB of submissions (about 200k
# e-PPGBM rows, ~1 GB in a worker) halves the runs of a Banten month against 16 MB.
BATCH_BYTES = 32 * 1024 * 1024



class Item(NamedTuple):
    """What a worker needs of one file (small: the bytes, and a few strings)."""

    sid: str | None  # None: an unnamed file, whose id its rows will tell
    file_name: str
    content: bytes
    name_error: str | None  # a name refused outright: not parsed
    sha: str
    hints: FileHints

    def __reduce_ex__(self, protocol):
        """Pickled with the file's bytes as an out-of-band buffer (protocol 5): Dask then sends them
        as a frame of their own instead of copying them into the pickle and scanning that for
        ``__main__`` (a 32 MB batch: ~50 ms of the single writer's CPU, 0.8 s a Banten month). The
        receiving side gets ``bytes`` back (:func:`_item`)."""
        content = pickle.PickleBuffer(self.content) if protocol >= 5 else self.content
        return _item, (self.sid, self.file_name, content, self.name_error, self.sha, self.hints)


def _item(sid, file_name, content, name_error, sha, hints) -> Item:
    """An :class:`Item` unpickled: its content as ``bytes`` whatever buffer carried it (no copy
    when it is ``bytes`` already)."""
    return Item(sid, file_name, content if type(content) is bytes else bytes(content), name_error, sha, hints)


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


class Counts(NamedTuple):
    """One read file's counts, as ``raw.submissions`` records them."""

    accepted: int  # rows landed
    read: int  # rows read
    rejected: int  # rows quarantined
    values_nulled: int = 0  # values nulled in landed rows (each in quarantine.rejected_values)
    nik_untrusted: int = 0  # rows whose NIK arrived as a number


REJECTED_ROW_COLUMNS = ["submission_id", "row_number", "column_name", "reason_code", "detail", "payload"]
REJECTED_VALUE_COLUMNS = ["submission_id", "row_number", "column_name", "reason_code", "detail", "original_value"]


@dataclass
class Prepared:
    """What parsing and validating a batch produced (picklable: it may come from a worker).

    ``sids`` and ``keys`` follow the batch's order: every file's submission id, and the key of a
    file identified from its rows (None where the name or listing told it, or nothing did).
    """

    sids: list[str]
    keys: list[SubmissionKey | None]
    errors: dict[str, str | None]  # sid -> file error, None when the file was read
    results: dict[str, Counts]  # sid -> counts, for the files read
    rows: pd.DataFrame | None  # accepted rows of every file, with submission_id
    rejects: pd.DataFrame | None  # cells of quarantined rows, with submission_id (REJECTED_ROW_COLUMNS)
    validation: pd.DataFrame | None
    nulled: pd.DataFrame | None = None  # values nulled in accepted rows (REJECTED_VALUE_COLUMNS)
    warnings: pd.DataFrame | None = None  # submission_id, code, detail, n_rows


def _concat_frames(frames: list) -> pd.DataFrame | None:
    frames = [f for f in frames if f is not None and len(f)]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else (frames[0] if frames else None)


def _concat_rows(parts: list):
    """Accepted rows of several batches as one table: Arrow when any came as Arrow (the spool),
    else pandas; columns matched by name (DuckDB inserts them by name)."""
    parts = [r for r in parts if r is not None and len(r)]
    if len(parts) <= 1:
        return parts[0] if parts else None
    if all(isinstance(r, pd.DataFrame) for r in parts):
        return pd.concat(parts, ignore_index=True)
    import pyarrow as pa

    tables = [pa.Table.from_pandas(r, preserve_index=False) if isinstance(r, pd.DataFrame) else r for r in parts]
    return pa.concat_tables(tables, promote_options="permissive")


def merge_prepared(parts: list[Prepared]) -> Prepared:
    """Consecutive prepared batches of one stream as one, in order (committed in one transaction:
    every submission is still whole, and lands in the same order with the same version)."""
    if len(parts) == 1:
        return parts[0]
    return Prepared(
        sids=[s for p in parts for s in p.sids], keys=[k for p in parts for k in p.keys],
        errors={k: v for p in parts for k, v in p.errors.items()},
        results={k: v for p in parts for k, v in p.results.items()},
        rows=_concat_rows([p.rows for p in parts]), rejects=_concat_frames([p.rejects for p in parts]),
        validation=_concat_frames([p.validation for p in parts]), nulled=_concat_frames([p.nulled for p in parts]),
        warnings=_concat_frames([p.warnings for p in parts]))


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


def _row_level(parsed: BatchParse) -> np.ndarray:
    """Per reject: whether it quarantined its row (a parser without levels rejects rows only)."""
    if "level" not in parsed.rejects:
        return np.ones(len(parsed.rejects), dtype=bool)
    return parsed.rejects["level"].ne("value").to_numpy(dtype=bool)


def _file_outcomes(items: list[Item], all_sids: list[str], sids: list[str], parsed: BatchParse):
    """Per submission, in batch order: its file error (None when read), and for the files read
    its :class:`Counts`."""
    errors: dict[str, str | None] = {sid: it.name_error for sid, it in zip(all_sids, items, strict=True)
                                     if it.name_error is not None}
    n_acc = np.bincount(parsed.row_files, minlength=len(sids))
    row_level = _row_level(parsed)
    rejected_rows = (pd.DataFrame({"f": parsed.reject_files[row_level],
                                   "r": parsed.rejects["row_number"].to_numpy()[row_level]})
                     .drop_duplicates()["f"].to_numpy(dtype="int64") if len(parsed.rejects) else np.zeros(0, "int64"))
    n_rej = np.bincount(rejected_rows, minlength=len(sids))
    n_nulled = np.bincount(parsed.reject_files[~row_level], minlength=len(sids))
    results: dict[str, Counts] = {}
    for f, sid in enumerate(sids):
        errors[sid] = parsed.file_errors[f]
        if parsed.file_errors[f] is None:
            untrusted = sum(w.n_rows or 0 for w in parsed.warnings[f] if w.code == "nik_untrusted")
            results[sid] = Counts(int(n_acc[f]), int(parsed.n_source_rows[f]), int(n_rej[f]), int(n_nulled[f]),
                                  untrusted)
    return {sid: errors[sid] for sid in all_sids}, results


def _warnings(sids: np.ndarray, parsed: BatchParse) -> pd.DataFrame | None:
    """The parser's warnings of every file read, one row each (code, detail, rows concerned)."""
    rows = [(sids[f], w.code, w.detail, w.n_rows) for f in range(len(sids)) if parsed.file_errors[f] is None
            for w in parsed.warnings[f]]
    if not rows:
        return None
    return pd.DataFrame(rows, columns=["submission_id", "code", "detail", "n_rows"]).astype({"n_rows": "Int64"})


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
    rows = rejects = nulled = None
    if len(parsed.rows):
        rows = parsed.rows
        rows.insert(0, "submission_id", sids[parsed.row_files])
    if len(parsed.rejects):
        row_level = _row_level(parsed)
        flagged = parsed.rejects.rename(columns={"column": "column_name"})
        flagged.insert(0, "submission_id", sids[parsed.reject_files])
        if row_level.any():
            rejects = flagged[row_level].reindex(columns=REJECTED_ROW_COLUMNS).reset_index(drop=True)
        if not row_level.all():
            nulled = flagged[~row_level].reindex(columns=REJECTED_VALUE_COLUMNS).reset_index(drop=True)
    validation = None
    accepted = [sid for sid, err in errors.items() if err is None]
    if validate is not None and accepted:
        frame = rows if rows is not None else pd.DataFrame({"submission_id": [], "row_number": []})
        validation = validate(stream, frame, accepted)
    return Prepared(all_sids, keys, errors, results, rows, rejects, validation, nulled, _warnings(sids, parsed))
