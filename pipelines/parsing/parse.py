"""Submission files -> typed, pseudonymised rows plus row-level rejects.

:func:`parse_batch` is the entry point used by ingestion: it reads every file on its own (format,
encoding, delimiter, header mapping and file errors are per-file decisions), then types the rows
of all the files that share a reader kind and column set in ONE vectorised pass, and splits the
outcome back per file. :func:`parse_submission` is the one-file case. A file parses the same
alone or in any batch.

Nothing here raises for a bad file: a file that cannot be read at all comes back with
``file_error`` set, every offending cell comes back in ``rejects`` (one reject per cell, naming
its column, with its ``level``): a row with a ``row`` reject is left out of ``rows``; a ``value``
reject nulls that value in ``rows`` and the row stays. Rows are NOT de-duplicated here;
``row_number`` lets the loader keep the last row of a duplicate group.

Personal columns of the layout (and any alias-only personal column such as a parent's phone)
are replaced by keyed tokens before anything leaves this module: they appear neither in
``rows`` nor in a reject's ``payload``/``detail`` nor in ``warnings``.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from pipelines.parsing import values as V
from pipelines.parsing.cells import ParseWarning
from pipelines.parsing.layouts import LAYOUTS, Layout
from pipelines.parsing.parse_context import MAX_QUOTED, REJECT_COLUMNS, Context, payload_json
from pipelines.parsing.parse_streams import NULLED_COLUMN, STREAM_PARSERS
from pipelines.parsing.pseudonym import Pseudonymiser
from pipelines.parsing.readers import FileError, RawTable, read_table
from pipelines.parsing.regions import RegionIndex

# Free-text columns kept out of reject payloads: nobody controls what a cadre types there.
FREE_TEXT = frozenset({"detail"})
PARSERS = STREAM_PARSERS


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
    """

    rows: pd.DataFrame
    rejects: pd.DataFrame
    file_error: str | None
    n_source_rows: int
    warnings: list[ParseWarning] = field(default_factory=list)

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


def _empty_rejects(parsed: bool = False) -> pd.DataFrame:
    return _NO_REJECTS[parsed].copy()


_EMPTY_ROWS: dict[str, pd.DataFrame] = {}


def _empty_result(stream: str, error: str | None, pseudonymiser: Pseudonymiser, regions: RegionIndex,
                  ) -> ParseResult:
    if stream not in _EMPTY_ROWS:  # the typed empty frame depends on the stream only
        layout = LAYOUTS[stream]
        empty = pd.DataFrame({c: pd.Series([], dtype="str") for c in layout.canonical})
        rows = PARSERS[stream](Context(empty, layout, pseudonymiser, regions))
        rows.insert(0, "row_number", pd.Series([], dtype="int64"))
        _EMPTY_ROWS[stream] = rows
    return ParseResult(_EMPTY_ROWS[stream].copy(), _empty_rejects(), error, 0, [])


def _batch_frame(tables: list[RawTable]) -> pd.DataFrame:
    """The cells of files with the same columns, one after the other.

    CSV cells become the ``str`` dtype here, once per batch (the typed parsers take the fast
    string path); XLSX/JSON cells stay ``object`` with their native types.
    """
    names = tables[0].names
    text = tables[0].file_format == "csv"
    index = pd.RangeIndex(sum(len(t) for t in tables))
    data = {}
    for j, name in enumerate(names):
        parts = [t.cells[j if t.names is names else t.names.index(name)] for t in tables]
        if text:
            arrays = [p if isinstance(p, pa.Array) else pa.array(p, type=pa.large_string()) for p in parts]
            data[name] = pd.Series(pa.concat_arrays(arrays), index=index, dtype="str")
        else:
            data[name] = pd.Series(np.concatenate(parts), index=index, dtype=object)
    return pd.DataFrame(data, columns=names, index=index)


def _payloads(ctx: Context, typed: pd.DataFrame, positions: np.ndarray) -> dict[int, str]:
    """JSON payload of every rejected row: its non-personal cells as read plus its tokens."""
    # Columns reached only through an alias (a parent's phone, NIK or family card number) are
    # not in the layout's column list: treat them as personal by default.
    layout = ctx.layout
    personal = set(layout.pii) | {c for c in ctx.raw.columns if c not in layout.canonical}
    keep = [c for c in layout.canonical if c in ctx.raw.columns and c not in personal | FREE_TEXT]
    tokens = [c for c in typed.columns if c.endswith("_id") or c == "nik_valid"]
    payload_frame = pd.concat(
        [ctx.raw.iloc[positions][keep].apply(V.as_text).reset_index(drop=True),
         typed.iloc[positions][tokens].reset_index(drop=True)],
        axis=1,
    )
    return dict(zip(positions.tolist(), payload_json(payload_frame), strict=True))


def _split(frame: pd.DataFrame, files: np.ndarray, n_files: int) -> list[pd.DataFrame]:
    """Rows of ``frame`` per file (``files`` non-decreasing), each with a fresh RangeIndex."""
    bounds = np.searchsorted(files, np.arange(n_files + 1))
    return [frame.iloc[bounds[f]:bounds[f + 1]].reset_index(drop=True) for f in range(n_files)]


@dataclass
class BatchParse:
    """Outcome of parsing many files of one stream, kept as one frame (no per-file frames).

    ``rows`` holds the accepted rows of every file in file order (``row_number`` first), with
    ``row_files[i]`` the position (in the files given) of row ``i``; ``rejects`` holds
    ``REJECT_COLUMNS`` sorted by file, row number and reason, with ``reject_files`` likewise.
    ``file_errors``, ``n_source_rows`` and ``warnings`` (:class:`ParseWarning`) have one entry per
    file. Ingestion uses
    this form: splitting a batch of one-row files into frames cost more than parsing them.
    """

    rows: pd.DataFrame
    row_files: np.ndarray
    rejects: pd.DataFrame
    reject_files: np.ndarray
    file_errors: list[str | None]
    n_source_rows: list[int]
    warnings: list[list[ParseWarning]]

    @property
    def n_files(self) -> int:
        return len(self.file_errors)

    @classmethod
    def from_results(cls, results: list[ParseResult]) -> BatchParse:
        """The joined form of per-file results (e.g. from a ``parse_many`` returning a list)."""
        rows = [r.rows for r in results]
        rejects = [r.rejects for r in results]
        return cls(
            _concat(rows), np.repeat(np.arange(len(results), dtype="int64"), [len(r) for r in rows]),
            _concat(rejects, _empty_rejects(parsed=True)),
            np.repeat(np.arange(len(results), dtype="int64"), [len(r) for r in rejects]),
            [r.file_error for r in results], [int(r.n_source_rows) for r in results],
            [list(r.warnings) for r in results],
        )

    @classmethod
    def combine(cls, parts: list[tuple[np.ndarray, BatchParse]], n_files: int) -> BatchParse:
        """Parts covering files ``positions`` each (any order) -> one result in file order."""
        errors: list[str | None] = [None] * n_files
        n_src, warns = [0] * n_files, [[] for _ in range(n_files)]
        for positions, part in parts:
            for j, f in enumerate(positions.tolist()):
                errors[f], n_src[f], warns[f] = part.file_errors[j], part.n_source_rows[j], part.warnings[j]
        row_files = np.concatenate([pos[p.row_files] for pos, p in parts] or [np.zeros(0, "int64")])
        reject_files = np.concatenate([pos[p.reject_files] for pos, p in parts] or [np.zeros(0, "int64")])
        rows = _concat([p.rows for _, p in parts])
        rejects = _concat([p.rejects for _, p in parts], _empty_rejects(parsed=True))
        if len(parts) > 1:  # stable: each file keeps its own row order
            order = np.argsort(row_files, kind="stable")
            rows, row_files = rows.take(order).reset_index(drop=True), row_files[order]
            order = np.argsort(reject_files, kind="stable")
            rejects, reject_files = rejects.take(order).reset_index(drop=True), reject_files[order]
        return cls(rows, row_files, rejects, reject_files, errors, n_src, warns)

    def results(self, stream: str, pseudonymiser: Pseudonymiser, regions: RegionIndex) -> list[ParseResult]:
        """One :class:`ParseResult` per file (what :func:`parse_batch` returns)."""
        rows_by_file = _split(self.rows, self.row_files, self.n_files)
        rejects_by_file = _split(self.rejects, self.reject_files, self.n_files)
        out = []
        for f in range(self.n_files):
            if self.file_errors[f] is not None:
                out.append(_empty_result(stream, self.file_errors[f], pseudonymiser, regions))
            else:
                rejects = rejects_by_file[f] if len(rejects_by_file[f]) else _empty_rejects(parsed=True)
                out.append(ParseResult(rows_by_file[f], rejects, None, self.n_source_rows[f], self.warnings[f]))
        return out


def _concat(frames: list[pd.DataFrame], empty: pd.DataFrame | None = None) -> pd.DataFrame:
    nonempty = [f for f in frames if len(f)]
    if len(nonempty) == 1:
        return nonempty[0].reset_index(drop=True)
    if nonempty:
        return pd.concat(nonempty, ignore_index=True)
    return frames[0].reset_index(drop=True) if frames else (empty if empty is not None else pd.DataFrame())


def _null_values(ctx: Context, typed: pd.DataFrame, rejects: pd.DataFrame, kept: np.ndarray) -> None:
    """Null, in ``typed``, the value of every value reject on a kept row (most are already null:
    an unparseable or out-of-range cell types as NA)."""
    values = rejects[(rejects["level"] == "value").to_numpy() & kept[rejects["position"].to_numpy()]]
    for column, positions in values.groupby("column")["position"]:
        target = NULLED_COLUMN.get(column, column)
        if target in typed.columns:
            mask = np.zeros(ctx.n, dtype=bool)
            mask[positions.to_numpy()] = True
            typed[target] = typed[target].mask(mask)


def _original_values(ctx: Context, columns: pd.Series, positions: np.ndarray) -> np.ndarray:
    """The cell as read behind each reject, for non-personal columns (None for personal ones)."""
    out = np.full(len(positions), None, dtype=object)
    columns = columns.to_numpy(dtype=object)
    for column in pd.unique(columns):
        if column in ctx.raw.columns and column not in ctx.layout.pii:
            at = columns == column
            out[at] = ctx.text(column).iloc[positions[at]].str.slice(0, 4 * MAX_QUOTED).to_numpy(object)
    return out


def _assemble(ctx: Context, typed: pd.DataFrame, tables: list[RawTable]) -> BatchParse:
    rejects = ctx.rejects()
    n_files = len(tables)
    row_numbers = np.concatenate([np.asarray(t.row_numbers, dtype="int64") for t in tables])
    position = rejects["position"].to_numpy(dtype="int64")
    rejected = np.zeros(ctx.n, dtype=bool)
    rejected[position[(rejects["level"] == "row").to_numpy()]] = True
    kept = ~rejected
    _null_values(ctx, typed, rejects, kept)

    rows = typed.reset_index(drop=True)
    rows.insert(0, "row_number", row_numbers)
    rows = rows[kept].reset_index(drop=True) if rejected.any() else rows

    payload_by_pos = _payloads(ctx, typed, np.flatnonzero(rejected))
    # A value reject on a row quarantined anyway goes with the row's other rejects.
    on_kept = kept[position]
    original = np.full(len(position), None, dtype=object)
    original[on_kept] = _original_values(ctx, rejects["column"][on_kept], position[on_kept])
    out = pd.DataFrame({
        "file": ctx.file_index[position],
        "row_number": row_numbers[position],
        "column": rejects["column"].astype(object),
        "reason_code": rejects["reason_code"].astype("str"),
        "detail": rejects["detail"].astype("str"),
        "payload": pd.Series([payload_by_pos.get(p) for p in position.tolist()], dtype="str"),
        "level": pd.Series(np.where(on_kept, "value", "row"), dtype="str"),
        "original_value": pd.Series(original, dtype="str"),
    })
    malformed = [(f, b[0], b[1], b[2] if len(b) > 2 else "malformed_row") for f, t in enumerate(tables)
                 for b in t.bad_rows]
    if malformed:
        out = pd.concat([out, pd.DataFrame({
            "file": [m[0] for m in malformed], "row_number": [m[1] for m in malformed], "column": None,
            "reason_code": [m[3] for m in malformed], "detail": [m[2] for m in malformed], "payload": "{}",
            "level": "row", "original_value": None,
        }).astype({"column": object, "reason_code": "str", "detail": "str", "payload": "str", "level": "str",
                   "original_value": "str"})], ignore_index=True)
    out = out.sort_values(["file", "row_number", "reason_code"], kind="stable")
    return BatchParse(
        rows, ctx.file_index[kept], out[list(REJECT_COLUMNS)].reset_index(drop=True),
        out["file"].to_numpy(dtype="int64"), [None] * n_files,
        [len(t) + len(t.bad_rows) for t in tables], [list(w) for w in ctx.warnings],
    )


def _internal_error(exc: Exception) -> str:
    where = traceback.extract_tb(exc.__traceback__)[-1]
    return (f"internal_error: {type(exc).__name__} at {Path(where.filename).name}:{where.lineno} "
            "(message withheld: it may quote personal data)")


def _parse_group(stream: str, layout: Layout, tables: list[RawTable], pseudonymiser: Pseudonymiser,
                 regions: RegionIndex) -> BatchParse:
    """Type the rows of files that share a reader kind and a column set, in one pass."""
    lengths = [len(t) for t in tables]
    ctx = Context(_batch_frame(tables), layout, pseudonymiser, regions, [list(t.warnings) for t in tables],
                  np.repeat(np.arange(len(tables), dtype="int64"), lengths))
    try:
        return _assemble(ctx, PARSERS[stream](ctx), tables)
    except Exception as exc:  # noqa: BLE001 - an exception message could quote personal cells
        message = _internal_error(exc)
    # Outside the except block, so no exception chain carrying cell values is attached.
    if len(tables) > 1:  # find the file(s) at fault: every other file still parses
        return BatchParse.combine(
            [(np.array([i]), _parse_group(stream, layout, [t], pseudonymiser, regions)) for i, t in enumerate(tables)],
            len(tables),
        )
    return BatchParse.from_results([_empty_result(stream, message, pseudonymiser, regions)])


def parse_batch_joined(
    stream: str, files: list[tuple[str, bytes]], *, pseudonymiser: Pseudonymiser, regions: RegionIndex
) -> BatchParse:
    """:func:`parse_batch` with the outcome kept as one frame (see :class:`BatchParse`).

    ``parse_batch_joined(...).results(...)`` equals ``parse_batch(...)``.
    """
    if stream not in PARSERS:
        raise ValueError(f"unknown stream {stream!r}")
    layout = LAYOUTS[stream]
    parts: list[tuple[np.ndarray, BatchParse]] = []
    groups: dict[tuple, list[tuple[int, RawTable]]] = {}
    for i, (file_name, content) in enumerate(files):
        try:
            table = read_table(content, file_name, layout)
        except FileError as exc:
            parts.append((np.array([i]), BatchParse.from_results(
                [_empty_result(stream, str(exc), pseudonymiser, regions)])))
            continue
        # Files typed together must agree on what a cell is (CSV text vs native XLSX/JSON
        # values) and on which columns exist (an absent column reads as empty in that file).
        key = (table.file_format == "csv", tuple(sorted(table.names)))
        groups.setdefault(key, []).append((i, table))
    for members in groups.values():
        positions = np.array([i for i, _ in members], dtype="int64")
        parts.append((positions, _parse_group(stream, layout, [t for _, t in members], pseudonymiser, regions)))
    if not parts:
        return BatchParse.from_results([])
    return BatchParse.combine(parts, len(files))


def parse_batch(
    stream: str, files: list[tuple[str, bytes]], *, pseudonymiser: Pseudonymiser, regions: RegionIndex
) -> list[ParseResult]:
    """Parse many submission files of one stream; same results as one :func:`parse_submission` each.

    Memory grows with the batch (all cells of all files are held at once): callers with a whole
    province's month should pass a few hundred files at a time.

    Args:
        stream: one of :data:`pipelines.parsing.layouts.STREAMS`.
        files: ``(file_name, content)`` pairs; the name's extension must agree with the content.
        pseudonymiser: keyed HMAC for personal columns.
        regions: region master index for name resolution and code validation.

    Returns:
        One ParseResult per file, in the order given; ``file_error`` is
        ``"<reason_code>: <message>"`` when a file is unusable.

    Raises:
        ValueError: unknown stream.
    """
    return parse_batch_joined(stream, files, pseudonymiser=pseudonymiser, regions=regions).results(
        stream, pseudonymiser, regions)


def parse_submission(
    stream: str, content: bytes, file_name: str, *, pseudonymiser: Pseudonymiser, regions: RegionIndex
) -> ParseResult:
    """Parse one submission file of ``stream`` (see :func:`parse_batch`).

    Raises:
        ValueError: unknown stream.
    """
    return parse_batch(stream, [(file_name, content)], pseudonymiser=pseudonymiser, regions=regions)[0]
