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

import numpy as np
import pandas as pd
import pyarrow as pa

from pipelines.parsing import values as V
from pipelines.parsing.cells import withheld
from pipelines.parsing.file_identity import SOURCES, FileHints, derive_identities
from pipelines.parsing.layouts import LAYOUTS, Layout
from pipelines.parsing.parse_context import MAX_QUOTED, REJECT_COLUMNS, Context, payload_json
from pipelines.parsing.parse_streams import NULLED_COLUMN, STREAM_PARSERS
from pipelines.parsing.pseudonym import Pseudonymiser
from pipelines.parsing.readers import FileError, RawTable, read_tables
from pipelines.parsing.regions import RegionIndex
from pipelines.parsing.results import BatchParse, ParseResult, empty_rejects, split_frame

# Free-text columns kept out of reject payloads: nobody controls what a cadre types there.
FREE_TEXT = frozenset({"detail"})
PARSERS = STREAM_PARSERS


_EMPTY_ROWS: dict[str, pd.DataFrame] = {}


def _empty_result(stream: str, error: str | None, pseudonymiser: Pseudonymiser, regions: RegionIndex,
                  ) -> ParseResult:
    if stream not in _EMPTY_ROWS:  # the typed empty frame depends on the stream only
        layout = LAYOUTS[stream]
        empty = pd.DataFrame({c: pd.Series([], dtype="str") for c in layout.canonical})
        rows = PARSERS[stream](Context(empty, layout, pseudonymiser, regions))
        rows.insert(0, "row_number", pd.Series([], dtype="int64"))
        _EMPTY_ROWS[stream] = rows
    return ParseResult(_EMPTY_ROWS[stream].copy(), empty_rejects(), error, 0, [])


def _batch_frame(tables: list[RawTable]) -> pd.DataFrame:
    """The cells of files with the same columns, one after the other.

    Text cells become the ``str`` dtype here, once per batch (the typed parsers take the fast
    string path): every CSV column, and an XLSX/JSON column whose cells are all text in every
    file of the group (:func:`~pipelines.parsing.cells.text_columns_as_arrow`). Other XLSX/JSON
    columns stay ``object`` with their native types.
    """
    names = tables[0].names
    index = pd.RangeIndex(sum(len(t) for t in tables))
    data = {}
    for j, name in enumerate(names):
        parts = [t.cells[j if t.names is names else t.names.index(name)] for t in tables]
        if tables[0].file_format == "csv" or all(isinstance(p, pa.Array) for p in parts):
            data[name] = pd.Series(_text_column(parts), index=index, dtype="str")
        else:
            objects = [p.to_numpy(zero_copy_only=False) if isinstance(p, pa.Array) else p for p in parts]
            data[name] = pd.Series(np.concatenate(objects), index=index, dtype=object)
    return pd.DataFrame(data, columns=names, index=index)


def _text_column(parts: list) -> pa.Array:
    """One Arrow text column of a group's parts in order: Arrow arrays as they are, and each run
    of consecutive object arrays (files small enough for the csv module) converted in one call,
    not one per file (1,000 one-row scorecards, 17 columns: 57 -> 12 ms)."""
    arrays, run = [], []
    for part in parts:
        if isinstance(part, pa.Array):
            if run:
                arrays.append(_as_arrow_text(run))
                run = []
            arrays.append(part)
        else:
            run.append(part)
    if run:
        arrays.append(_as_arrow_text(run))
    return pa.concat_arrays(arrays) if len(arrays) != 1 else arrays[0]


def _as_arrow_text(run: list[np.ndarray]) -> pa.Array:
    return pa.array(np.concatenate(run) if len(run) > 1 else run[0], type=pa.large_string())


def _payloads(ctx: Context, typed: pd.DataFrame, positions: np.ndarray) -> dict[int, str]:
    """JSON payload of every rejected row: its non-personal cells as read plus its tokens."""
    # Columns reached only through an alias (a parent's phone, NIK or family card number) are
    # not in the layout's column list: treat them as personal by default.
    layout = ctx.layout
    personal = set(layout.pii) | {c for c in ctx.raw.columns if c not in layout.canonical}
    keep = [c for c in layout.canonical if c in ctx.raw.columns and c not in personal | FREE_TEXT]
    tokens = [c for c in typed.columns if c.endswith("_id") or c == "nik_valid"]
    # e-PPGBM names resolve to a village code: kept, so that a district- or regency-wide file's
    # rejected rows still count for their village (fct_growth_data_quality)
    tokens += [c for c in ("village_code",) if c in typed.columns and c not in keep]
    payload_frame = pd.concat(
        [ctx.raw.iloc[positions][keep].apply(V.as_text).reset_index(drop=True),
         typed.iloc[positions][tokens].reset_index(drop=True)],
        axis=1,
    )
    return dict(zip(positions.tolist(), payload_json(payload_frame), strict=True))


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
    return _identified(ctx, typed, tables, rows, ctx.file_index[kept], out)


def _identified(ctx: Context, typed: pd.DataFrame, tables: list[RawTable], rows: pd.DataFrame,
                row_files: np.ndarray, rejects: pd.DataFrame) -> BatchParse:
    """The batch's outcome with every file's identity; a file whose rows tell no submitter or
    period (and no hint did) is refused whole and lands none of its rows."""
    unnamed = any(h.submitter_code is None for h in ctx.hints)  # named files: no look at the codes at all
    identities = derive_identities(ctx.layout.stream, typed, ctx.file_index, ctx.hints, ctx.periods,
                                   _valid_submitters(ctx, typed) if unnamed else None, [t.file_format for t in tables])
    refused = np.array([f for f, i in enumerate(identities) if isinstance(i, str)], dtype="int64")
    if len(refused):
        keep = ~np.isin(row_files, refused)
        rows, row_files = rows[keep].reset_index(drop=True), row_files[keep]
        rejects = rejects[~rejects["file"].isin(refused)]
    return BatchParse(
        rows, row_files, rejects[list(REJECT_COLUMNS)].reset_index(drop=True),
        rejects["file"].to_numpy(dtype="int64"), [i if isinstance(i, str) else None for i in identities],
        [len(t) + len(t.bad_rows) for t in tables], [list(w) for w in ctx.warnings],
        [None if isinstance(i, str) else i for i in identities],
    )


def _valid_submitters(ctx: Context, typed: pd.DataFrame) -> pd.Series:
    """Per row, whether its submitter column holds a code the region master knows (e-PPGBM: its
    names resolved; OPD codes are not in the master)."""
    column = SOURCES[ctx.layout.stream][0]
    codes = typed[column]
    if column == "opd_code" or column not in ctx.raw.columns:
        return codes.notna()
    return ctx.regions.validate_code(codes, "village" if column == "village_code" else "regency")


def _internal_error(exc: Exception) -> str:
    return f"internal_error: {withheld(exc)}"


def _parse_group(stream: str, layout: Layout, tables: list[RawTable], pseudonymiser: Pseudonymiser,
                 regions: RegionIndex, hints: list[FileHints]) -> BatchParse:
    """Type the rows of files that share a reader kind and a column set, in one pass."""
    lengths = [len(t) for t in tables]
    ctx = Context(_batch_frame(tables), layout, pseudonymiser, regions, [list(t.warnings) for t in tables],
                  np.repeat(np.arange(len(tables), dtype="int64"), lengths), hints)
    try:
        return _assemble(ctx, PARSERS[stream](ctx), tables)
    except Exception as exc:  # noqa: BLE001 - an exception message could quote personal cells
        message = _internal_error(exc)
    # Outside the except block, so no exception chain carrying cell values is attached.
    if len(tables) > 1:  # find the file(s) at fault: every other file still parses
        return BatchParse.combine(
            [(np.array([i]), _parse_group(stream, layout, [t], pseudonymiser, regions, [hints[i]]))
             for i, t in enumerate(tables)],
            len(tables),
        )
    return BatchParse.from_results([_empty_result(stream, message, pseudonymiser, regions)])


def split_results(batch: BatchParse, stream: str, pseudonymiser: Pseudonymiser,
              regions: RegionIndex) -> list[ParseResult]:
    """One :class:`ParseResult` per file (what :func:`parse_batch` returns)."""
    rows_by_file = split_frame(batch.rows, batch.row_files, batch.n_files)
    rejects_by_file = split_frame(batch.rejects, batch.reject_files, batch.n_files)
    out = []
    for f in range(batch.n_files):
        if batch.file_errors[f] is not None:
            out.append(_empty_result(stream, batch.file_errors[f], pseudonymiser, regions))
        else:
            rejects = rejects_by_file[f] if len(rejects_by_file[f]) else empty_rejects(parsed=True)
            out.append(ParseResult(rows_by_file[f], rejects, None, batch.n_source_rows[f], batch.warnings[f],
                                   batch.identities[f]))
    return out


def parse_batch_joined(
    stream: str, files: list[tuple[str, bytes]], hints: list[FileHints] | None = None, *,
    pseudonymiser: Pseudonymiser, regions: RegionIndex,
) -> BatchParse:
    """:func:`parse_batch` with the outcome kept as one frame (see :class:`BatchParse`).

    ``split_results(parse_batch_joined(...), ...)`` equals ``parse_batch(...)``.
    """
    if stream not in PARSERS:
        raise ValueError(f"unknown stream {stream!r}")
    layout = LAYOUTS[stream]
    hints = hints or [FileHints()] * len(files)
    parts: list[tuple[np.ndarray, BatchParse]] = []
    groups: dict[tuple, list[tuple[int, RawTable]]] = {}
    for i, table in enumerate(read_tables(files, layout)):
        if isinstance(table, FileError):
            parts.append((np.array([i]), BatchParse.from_results(
                [_empty_result(stream, str(table), pseudonymiser, regions)])))
            continue
        # Files typed together must agree on what a cell is (CSV text vs native XLSX/JSON
        # values) and on which columns exist (an absent column reads as empty in that file).
        key = (table.file_format == "csv", tuple(sorted(table.names)))
        groups.setdefault(key, []).append((i, table))
    for members in groups.values():
        positions = np.array([i for i, _ in members], dtype="int64")
        parts.append((positions, _parse_group(stream, layout, [t for _, t in members], pseudonymiser, regions,
                                              [hints[i] for i, _ in members])))
    if not parts:
        return BatchParse.from_results([])
    return BatchParse.combine(parts, len(files))


def parse_batch(
    stream: str, files: list[tuple[str, bytes]], hints: list[FileHints] | None = None, *,
    pseudonymiser: Pseudonymiser, regions: RegionIndex,
) -> list[ParseResult]:
    """Parse many submission files of one stream; same results as one :func:`parse_submission` each.

    Memory grows with the batch (all cells of all files are held at once): callers with a whole
    province's month should pass a few hundred files at a time.

    Args:
        stream: one of :data:`pipelines.parsing.layouts.STREAMS`.
        files: ``(file_name, content)`` pairs; the name's extension must agree with the content.
        hints: per file, its submitter and period when its name (or the portal) tells them, and
            when it was received; None: nothing known (the rows tell, see ``ParseResult.identity``).
        pseudonymiser: keyed HMAC for personal columns.
        regions: region master index for name resolution and code validation.

    Returns:
        One ParseResult per file, in the order given; ``file_error`` is
        ``"<reason_code>: <message>"`` when a file is unusable (``submitter_unknown`` and
        ``period_unknown`` when its rows tell neither and no hint did).

    Raises:
        ValueError: unknown stream.
    """
    joined = parse_batch_joined(stream, files, hints, pseudonymiser=pseudonymiser, regions=regions)
    return split_results(joined, stream, pseudonymiser, regions)


def parse_submission(
    stream: str, content: bytes, file_name: str, hints: FileHints | None = None, *, pseudonymiser: Pseudonymiser,
    regions: RegionIndex,
) -> ParseResult:
    """Parse one submission file of ``stream`` (see :func:`parse_batch`).

    Raises:
        ValueError: unknown stream.
    """
    return parse_batch(stream, [(file_name, content)], [hints or FileHints()], pseudonymiser=pseudonymiser,
                       regions=regions)[0]
