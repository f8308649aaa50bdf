"""What parsing returns: :class:`ParseResult` for one file, :class:`BatchParse` for a batch of
files typed together (the form ingestion uses), and the helpers that split and join them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipelines.parsing.cells import ParseWarning
from pipelines.parsing.file_identity import FileIdentity
from pipelines.parsing.parse_context import REJECT_COLUMNS


@dataclass
class ParseResult:
    """Outcome of parsing one submission file.

    ``rows``: accepted rows, ``row_number`` (header = row 1; JSON: 1-based record index) plus
    the stream's typed canonical columns with personal data replaced by tokens.
    ``rejects``: ``REJECT_COLUMNS``: ``row_number, column, reason_code, detail, payload, level,
    original_value``. ``level`` ``row``: the row is quarantined (payload = JSON of the row's
    non-personal cells as read plus its tokens); ``value``: the row is in ``rows`` with that value
    nulled (original_value = the cell as read, never for a personal column).
    ``n_source_rows``: data rows read, so ``accepted + distinct rejected rows == n_source_rows``.
    ``identity``: submitter and period, from the hints or read from the rows
    (:mod:`~pipelines.parsing.file_identity`); None when the file was refused.
    """

    rows: pd.DataFrame
    rejects: pd.DataFrame
    file_error: str | None
    n_source_rows: int
    warnings: list[ParseWarning] = field(default_factory=list)
    identity: FileIdentity | None = None

    @property
    def n_rejected_rows(self) -> int:
        """Rows quarantined (a ``row`` reject); a row that only lost values is accepted."""
        return int(self.rejects.loc[self.row_rejected, "row_number"].nunique()) if len(self.rejects) else 0

    @property
    def row_rejected(self) -> pd.Series:
        """Per reject: whether it quarantined its row."""
        return self.rejects["level"].ne("value") if "level" in self.rejects else pd.Series(True, self.rejects.index)

    @property
    def nulled(self) -> pd.DataFrame:
        """The value rejects: values nulled in ``rows``."""
        return self.rejects[~self.row_rejected]


def _reject_template(parsed: bool) -> pd.DataFrame:
    # The dtypes these frames always had: a file that failed as a whole has object columns; a
    # parsed file without rejects has text reasons/details and a float (all-empty) payload.
    text = "str" if parsed else object
    dtypes = {"row_number": "int64", "column": object, "reason_code": text, "detail": text,
              "payload": "float64" if parsed else object, "level": text, "original_value": text}
    return pd.DataFrame({c: pd.Series([], dtype=dtypes[c]) for c in REJECT_COLUMNS})


_NO_REJECTS = {parsed: _reject_template(parsed) for parsed in (False, True)}


def empty_rejects(parsed: bool = False) -> pd.DataFrame:
    return _NO_REJECTS[parsed].copy()


def split_frame(frame: pd.DataFrame, files: np.ndarray, n_files: int) -> list[pd.DataFrame]:
    """Rows of ``frame`` per file (``files`` non-decreasing), each with a fresh RangeIndex."""
    bounds = np.searchsorted(files, np.arange(n_files + 1))
    return [frame.iloc[bounds[f]:bounds[f + 1]].reset_index(drop=True) for f in range(n_files)]


@dataclass
class BatchParse:
    """Outcome of parsing many files of one stream, kept as one frame (no per-file frames).

    ``rows`` holds the accepted rows of every file in file order (``row_number`` first), with
    ``row_files[i]`` the position (in the files given) of row ``i``; ``rejects`` holds
    ``REJECT_COLUMNS`` sorted by file, row number and reason, with ``reject_files`` likewise.
    ``file_errors``, ``n_source_rows``, ``warnings`` (:class:`ParseWarning`) and ``identities``
    have one entry per file. Ingestion uses this form: splitting a batch of one-row files into
    frames cost more than parsing them.
    """

    rows: pd.DataFrame
    row_files: np.ndarray
    rejects: pd.DataFrame
    reject_files: np.ndarray
    file_errors: list[str | None]
    n_source_rows: list[int]
    warnings: list[list[ParseWarning]]
    identities: list[FileIdentity | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.identities:
            self.identities = [None] * len(self.file_errors)

    @property
    def n_files(self) -> int:
        return len(self.file_errors)

    @classmethod
    def from_results(cls, results: list[ParseResult]) -> BatchParse:
        """The joined form of per-file results (e.g. from a ``parse_many`` returning a list)."""
        rows = [r.rows for r in results]
        rejects = [r.rejects for r in results]
        return cls(
            concat_frames(rows), np.repeat(np.arange(len(results), dtype="int64"), [len(r) for r in rows]),
            concat_frames(rejects, empty_rejects(parsed=True)),
            np.repeat(np.arange(len(results), dtype="int64"), [len(r) for r in rejects]),
            [r.file_error for r in results], [int(r.n_source_rows) for r in results],
            [list(r.warnings) for r in results], [r.identity for r in results],
        )

    @classmethod
    def combine(cls, parts: list[tuple[np.ndarray, BatchParse]], n_files: int) -> BatchParse:
        """Parts covering files ``positions`` each (any order) -> one result in file order."""
        errors: list[str | None] = [None] * n_files
        n_src, warns = [0] * n_files, [[] for _ in range(n_files)]
        identities: list[FileIdentity | None] = [None] * n_files
        for positions, part in parts:
            for j, f in enumerate(positions.tolist()):
                errors[f], n_src[f], warns[f] = part.file_errors[j], part.n_source_rows[j], part.warnings[j]
                identities[f] = part.identities[j]
        row_files = np.concatenate([pos[p.row_files] for pos, p in parts] or [np.zeros(0, "int64")])
        reject_files = np.concatenate([pos[p.reject_files] for pos, p in parts] or [np.zeros(0, "int64")])
        rows = concat_frames([p.rows for _, p in parts])
        rejects = concat_frames([p.rejects for _, p in parts], empty_rejects(parsed=True))
        if len(parts) > 1:  # stable: each file keeps its own row order
            order = np.argsort(row_files, kind="stable")
            rows, row_files = rows.take(order).reset_index(drop=True), row_files[order]
            order = np.argsort(reject_files, kind="stable")
            rejects, reject_files = rejects.take(order).reset_index(drop=True), reject_files[order]
        return cls(rows, row_files, rejects, reject_files, errors, n_src, warns, identities)


def concat_frames(frames: list[pd.DataFrame], empty: pd.DataFrame | None = None) -> pd.DataFrame:
    nonempty = [f for f in frames if len(f)]
    if len(nonempty) == 1:
        return nonempty[0].reset_index(drop=True)
    if nonempty:
        return pd.concat(nonempty, ignore_index=True)
    return frames[0].reset_index(drop=True) if frames else (empty if empty is not None else pd.DataFrame())
