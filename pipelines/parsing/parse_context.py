"""Shared machinery of the per-stream parsers: rejects, warnings and typed-column helpers.

A parser reads raw cells, types them column by column (vectorised) and records every
offending cell as one reject ``(position, column, reason_code, detail, level)``. The level follows
from the column (:attr:`~pipelines.parsing.layouts.Layout.row_level`): a ``row`` reject (who,
where or when is unusable) quarantines the row as a whole; a ``value`` reject nulls that one value
and the row is kept. Details quote cell values only for non-personal columns: personal columns are
never parsed for validity here, they are hashed.

One :class:`Context` holds the rows of a whole batch of files (``file_index`` says which file
each row came from), so every typed operation runs once per batch. Anything that is a decision
about a whole file (the m/d vs d/m order of a date column, a warning and its counts) is taken
per file through :meth:`Context.file_count`, so a file parses the same alone or in a batch.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from pipelines.parsing import dates as D
from pipelines.parsing import values as V
from pipelines.parsing.cells import ParseWarning
from pipelines.parsing.file_identity import FileHints, most_common_period
from pipelines.parsing.layouts import Layout
from pipelines.parsing.pseudonym import Pseudonymiser
from pipelines.parsing.regions import RegionIndex, normalise_codes

# Every reason code a row can be quarantined with.
REJECT_REASONS = (
    "missing_value", "invalid_number", "invalid_date", "invalid_value", "invalid_sex",
    "out_of_range", "birth_after_measurement", "weight_out_of_range", "lenhei_out_of_range",
    "unknown_regency", "unknown_district", "unknown_village", "unknown_region_code",
    "region_mismatch", "invalid_decile", "invalid_action", "invalid_status", "malformed_row", "value_too_long",
    "measured_outside_period", "measured_after_received",
)
WIB = dt.timedelta(hours=7)  # received_at is UTC; measurement dates are calendar days in Banten
# level: "row" (the row is quarantined: quarantine.rejected_rows) or "value" (the value is nulled,
# the row kept: quarantine.rejected_values, with the cell as read in original_value).
REJECT_COLUMNS = ("row_number", "column", "reason_code", "detail", "payload", "level", "original_value")
MAX_QUOTED = 40  # longest cell text quoted in a detail
# A text column typed once per distinct cell (Context.per_value) when it has at most this share of
# distinct cells and at least DISTINCT_MIN_ROWS rows: weights, dates, labels, names of places.
DISTINCT_SHARE = 0.5
DISTINCT_MIN_ROWS = 256


def spread(result, codes: np.ndarray, index: pd.Index):
    """A result computed per distinct cell, back on the rows: ``result[codes]`` with ``index``
    (a Series, an array, a :class:`~pipelines.parsing.dates.DateCells`, or a tuple of them)."""
    if isinstance(result, tuple):
        return tuple(spread(r, codes, index) for r in result)
    if isinstance(result, pd.Series):
        return pd.Series(result.array.take(codes), index=index, name=result.name)
    if isinstance(result, np.ndarray):
        return result[codes]
    if isinstance(result, D.DateCells):
        return dataclasses.replace(result, index=index, **{
            f.name: getattr(result, f.name)[codes] for f in dataclasses.fields(result) if f.name != "index"})
    raise TypeError(f"cannot spread a {type(result).__name__}")


@dataclass
class Context:
    """The rows of one batch of files being parsed, the tools, and what went wrong so far.

    Args:
        raw: cells of every file of the batch, one after the other (same columns in every file).
        layout, pseudonymiser, regions: the stream's layout and the parsing tools.
        warnings: one list per file (the reader's :class:`ParseWarning`), appended to per file.
        file_index: file of each row (non-decreasing); ``None`` means one file.
        hints: per file, what is known before parsing (submitter, period, when received).
    """

    raw: pd.DataFrame
    layout: Layout
    pseudonymiser: Pseudonymiser
    regions: RegionIndex
    warnings: list[list[ParseWarning]] = field(default_factory=lambda: [[]])
    file_index: np.ndarray | None = None
    hints: list[FileHints] | None = None
    periods: list[str | None] = field(default_factory=list)  # per file: the period its rows report
    _rejects: list[pd.DataFrame] = field(default_factory=list)
    _text: dict[str, pd.Series] = field(default_factory=dict)
    _distinct: dict[str, tuple[np.ndarray, pd.Series] | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.file_index is None:
            self.file_index = np.zeros(len(self.raw), dtype="int64")
        if self.hints is None:
            self.hints = [FileHints()] * self.n_files
        self.periods = [h.period for h in self.hints]

    @property
    def n(self) -> int:
        return len(self.raw)

    @property
    def n_files(self) -> int:
        return len(self.warnings)

    def file_count(self, mask: pd.Series | np.ndarray) -> np.ndarray:
        """Number of True rows per file."""
        mask = np.asarray(mask.fillna(False) if isinstance(mask, pd.Series) else mask, dtype=bool)
        return np.bincount(self.file_index[mask], minlength=self.n_files)

    def warn(self, files: np.ndarray, code: str, message: str | Callable[[int], str],
             n_rows: np.ndarray | None = None) -> None:
        """Append a :class:`ParseWarning` ``code`` with ``message`` (or ``message(file)``) to the
        warnings of every file where ``files``; ``n_rows``: rows concerned, per file."""
        for f in np.flatnonzero(files):
            detail = message(f) if callable(message) else message
            self.warnings[f].append(ParseWarning(code, detail, None if n_rows is None else int(n_rows[f])))

    def cell(self, column: str) -> pd.Series:
        """Raw cells of a column; an absent optional column reads as all-empty."""
        if column in self.raw.columns:
            return self.raw[column]
        return pd.Series(pd.NA, index=self.raw.index, dtype="str")

    def text(self, column: str) -> pd.Series:
        """Cells as trimmed text, NA when empty (computed once per column)."""
        if column not in self._text:
            self._text[column] = self.per_value(column, V.as_text)
        return self._text[column]

    def distinct(self, column: str) -> tuple[np.ndarray, pd.Series] | None:
        """``(codes, cells)``: the column's distinct cells (the last one NA) and each row's code,
        for a text column of few distinct cells; None for a personal or mostly-distinct column,
        an XLSX/JSON column of native values, or a small batch (computed once per column)."""
        if column not in self._distinct:
            self._distinct[column] = None
            cells = self.raw[column] if column in self.raw.columns else None
            if (cells is not None and cells.dtype != object and self.n >= DISTINCT_MIN_ROWS
                    and column not in self.layout.pii):
                codes, distinct = V.dictionary_codes(cells)
                if len(distinct) <= DISTINCT_SHARE * self.n:
                    codes = np.where(codes < 0, len(distinct), codes)  # NA: the last distinct cell
                    with_na = pa.concat_arrays([distinct, pa.nulls(1, distinct.type)])
                    self._distinct[column] = (codes, pd.Series(with_na, dtype=cells.dtype))
        return self._distinct[column]

    def per_value(self, column: str, fn: Callable[[pd.Series], object]):
        """``fn(self.cell(column))``, computed once per distinct cell and spread back to the rows
        when the column has few (:meth:`distinct`). ``fn`` must treat each cell on its own (the
        same cell gives the same output wherever it is); it returns a Series, an array, a
        :class:`~pipelines.parsing.dates.DateCells` or a tuple of them, aligned with its input."""
        found = self.distinct(column)
        if found is None:
            return fn(self.cell(column))
        codes, cells = found
        return spread(fn(cells), codes, self.raw.index)

    def label(self, column: str) -> pd.Series:
        """A free-text category or label, trimmed (:func:`~pipelines.parsing.values.clean_label`)."""
        return self.per_value(column, V.clean_label)

    def reject(self, mask: pd.Series, column: str | None, reason: str,
               detail: str | pd.Series | Callable[[np.ndarray], object]) -> None:
        """Record ``reason`` for every row where ``mask`` is True: a row reject when ``column``
        is None or one of the layout's ``row_level`` columns, else a value reject.

        Args:
            mask: bool Series over the raw rows.
            column: canonical column at fault (None for row-level problems).
            reason: one of :data:`REJECT_REASONS`.
            detail: message, a per-row Series of messages, or a function of the rejected
                positions returning their messages (built only for the rejected rows); never
                personal data.
        """
        assert reason in REJECT_REASONS, reason
        flags = np.asarray(mask.fillna(False) if mask.dtype != bool else mask, dtype=bool)
        if not flags.any():
            return
        positions = np.flatnonzero(flags)
        if callable(detail):
            details = np.asarray(detail(positions), dtype=object)
        elif isinstance(detail, pd.Series):
            details = detail.iloc[positions].astype("str").to_numpy()
        else:
            details = detail
        level = "row" if column is None or column in self.layout.row_level else "value"
        self._rejects.append(pd.DataFrame({
            "position": positions, "column": column, "reason_code": reason, "detail": details, "level": level,
        }))

    def reject_bad(self, bad: pd.Series, column: str, reason: str, what: str | np.ndarray) -> None:
        """Reject unparseable cells of a non-personal column, quoting the (shortened) value.

        ``what`` is one prefix, or one prefix per file (indexed by file).
        """
        if bad.any():
            def quote(positions: np.ndarray) -> np.ndarray:
                quoted = self.text(column).iloc[positions].str.slice(0, MAX_QUOTED).fillna("").to_numpy(object)
                prefix = what[self.file_index[positions]] if isinstance(what, np.ndarray) else what
                return prefix + ": '" + quoted + "'"

            self.reject(bad, column, reason, quote)

    def rejects(self) -> pd.DataFrame:
        if not self._rejects:
            return pd.DataFrame({"position": pd.Series([], dtype="int64"), "column": [], "reason_code": [],
                                 "detail": [], "level": []})
        return pd.concat(self._rejects, ignore_index=True)

    def require(self, skip: tuple[str, ...] = ()) -> None:
        """``missing_value`` for every empty cell of a required column present in the file
        (but ``skip``: columns the parser judges together, such as a child's NIK and name)."""
        for column in self.layout.canonical:
            if column in self.layout.required and column in self.raw.columns and column not in skip:
                self.reject(self.text(column).isna(), column, "missing_value", "required value is empty")

    # Typed columns -----------------------------------------------------------------------

    def decimal(self, column: str, **kwargs) -> pd.Series:
        result, bad = self.per_value(column, lambda cells: V.parse_decimal(cells, **kwargs))
        self.reject_bad(bad, column, "invalid_number", "not a number")
        return result

    def integer(self, column: str, *, amount: bool = False, reason: str = "invalid_number") -> pd.Series:
        result, bad = self.per_value(column, lambda cells: V.parse_int(cells, amount=amount))
        self.reject_bad(bad, column, reason, "not a whole number")
        return result

    def in_range(self, column: str, values: pd.Series, low: float, high: float,
                 reason: str = "out_of_range") -> pd.Series:
        """Reject values outside [low, high]; returns the values with those set to NA."""
        outside = values.notna() & ~values.between(low, high)
        self.reject(outside, column, reason,
                    lambda pos: f"outside {low:g}..{high:g}: " + values.iloc[pos].astype("str").to_numpy(object))
        return values.mask(outside)

    def date(self, column: str) -> pd.Series:
        return self.dates((column,))[column]

    def dates(self, columns: tuple[str, ...], measured: str | None = None) -> dict[str, pd.Series]:
        """Date columns read with one slash order per file decided from all of them together;
        ``measured`` (one of them) and the files' periods break a tie (:mod:`~pipelines.parsing.dates`)."""
        cells = {c: self.per_value(c, D.scan_dates) for c in columns}
        orders = D.decide_orders(list(cells.values()), self.file_index, self.n_files,
                                 cells.get(measured) if measured else None, self.periods)
        what = np.array([f"not a date (column read as {o})" for o in orders.names], dtype=object)
        out = {}
        for column, scanned in cells.items():
            values, bad = scanned.read(orders.dmy[self.file_index])
            self.reject_bad(bad, column, "invalid_date", what)
            out[column] = values
        dated = np.logical_or.reduce([v.notna().to_numpy(dtype=bool) for v in out.values()])
        self.warn(np.array([w is not None for w in orders.warnings]), "date_order_guessed",
                  lambda f: orders.warnings[f], self.file_count(pd.Series(dated, index=self.raw.index)))
        return out

    def check_measured(self, measured: pd.Series) -> None:
        """Settle the period of every file that has none (the month most of its measurement dates
        fall in; a tie goes to the later month), then reject a measurement outside its file's period
        (``measured_outside_period``) or after the file was received (``measured_after_received``,
        compared as calendar days in WIB)."""
        days = D.as_days(measured)
        keys = D.month_keys(days)
        if any(p is None for p in self.periods):
            derived = most_common_period(self.file_index, D.month_labels(keys), self.n_files)
            self.periods = [p if p is not None else d for p, d in zip(self.periods, derived, strict=True)]
        wanted = np.array([D.period_month_key(p) for p in self.periods] or [-1], dtype="int64")[self.file_index]
        outside = (wanted >= 0) & (keys >= 0) & (keys != wanted)
        periods = np.array(self.periods, dtype=object)
        self.reject(outside, "measured_on", "measured_outside_period",
                    lambda pos: "measured in " + days[pos].astype("datetime64[M]").astype(str).astype(object)
                    + ", outside the file's period " + periods[self.file_index[pos]].astype(str))
        received = np.array([np.datetime64((h.received_at + WIB).date()) if h.received_at else np.datetime64("NaT")
                             for h in self.hints] or [np.datetime64("NaT")], dtype="datetime64[D]")
        limit = received[self.file_index]
        after = ~np.isnat(limit) & ~np.isnat(days) & (days > limit)
        self.reject(after, "measured_on", "measured_after_received",
                    lambda pos: "measured after the file was received on " + limit[pos].astype(str).astype(object)
                    + " (WIB)")

    def boolean(self, column: str) -> pd.Series:
        result, bad = self.per_value(column, V.parse_bool)
        self.reject_bad(bad, column, "invalid_value", "not Ya/Tidak")
        return result

    def enum(self, column: str, mapping: dict[str, object], reason: str = "invalid_value",
             dtype: str = "str") -> pd.Series:
        result, bad = self.per_value(column, lambda cells: V.parse_enum(cells, mapping, dtype))
        self.reject_bad(bad, column, reason, "unexpected value")
        return result

    def year(self, column: str = "year") -> pd.Series:
        return self.in_range(column, self.integer(column), 2000, 2100)

    def quarter(self, column: str = "quarter") -> pd.Series:
        text = self.text(column).str.upper().str.replace(r"^(TRIWULAN|TW|Q)[ \t]*", "", regex=True)
        roman = {"I": "1", "II": "2", "III": "3", "IV": "4"}
        result, bad = V.parse_int(text.replace(roman))
        bad = bad | (result.notna() & ~result.between(1, 4)).astype(bool)
        self.reject_bad(bad, column, "invalid_value", "not a quarter 1-4")
        return result.mask(bad)

    def region_code(self, column: str, level: str | tuple[str, ...]) -> pd.Series:
        """Kemendagri code as dotted text, rejected (``unknown_region_code``) when not in the master."""
        def checked(cells: pd.Series) -> tuple[pd.Series, pd.Series]:
            codes = normalise_codes(cells)
            return codes, codes.notna() & ~self.regions.validate_code(codes, level)

        codes, unknown = self.per_value(column, checked)
        self.reject(unknown, column, "unknown_region_code",
                    lambda pos: f"code not in the region master at level {level}: "
                    + codes.iloc[pos].fillna("").to_numpy(object))
        return codes


def _json_default(value: object) -> object:
    return value.item() if hasattr(value, "item") else str(value)


_PAYLOAD_ENCODER = json.JSONEncoder(ensure_ascii=False, default=_json_default)


def _python_values(series: pd.Series) -> list:
    """The column's cells as Python values, None for NA."""
    if hasattr(series.array, "__arrow_array__"):  # Arrow-backed: Arrow's nulls are the NAs
        return V.arrow_values(series).to_pylist()
    return series.astype(object).where(series.notna(), None).tolist()


def payload_json(frame: pd.DataFrame) -> list[str]:
    """One JSON object per row (NA -> null, non-ASCII kept); only called for rejected rows.

    Column by column (Arrow columns to Python by Arrow) rather than through
    ``to_dict(orient="records")``, which boxes every cell on its own: the same text, at a third of
    the cost (a batch's ~700 rejected e-PPGBM rows x 32 columns: 29-49 -> ~10 ms)."""
    if frame.empty:
        return []
    names = list(frame.columns)
    columns = [_python_values(frame[c]) for c in names]
    encode = _PAYLOAD_ENCODER.encode
    return [encode(dict(zip(names, row, strict=True))) for row in zip(*columns, strict=True)]
