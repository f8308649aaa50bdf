"""Shared machinery of the per-stream parsers: row-level rejects and typed-column helpers.

A parser reads raw cells, types them column by column (vectorised) and records every
offending cell as one reject ``(position, column, reason_code, detail)``. A row with at least
one reject is quarantined as a whole; the others are accepted. Details quote cell values only
for non-personal columns: personal columns are never parsed for validity here, they are hashed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipelines.sources import values as V
from pipelines.sources.layouts import Layout
from pipelines.sources.pseudonym import Pseudonymiser
from pipelines.sources.regions import RegionIndex, normalise_codes

# Every reason code a row can be quarantined with.
REJECT_REASONS = (
    "missing_value", "invalid_number", "invalid_date", "invalid_value", "invalid_sex",
    "out_of_range", "birth_after_measurement", "weight_out_of_range", "lenhei_out_of_range",
    "unknown_regency", "unknown_district", "unknown_village", "unknown_region_code",
    "region_mismatch", "invalid_decile", "invalid_action", "invalid_status", "malformed_row",
)
REJECT_COLUMNS = ("row_number", "column", "reason_code", "detail", "payload")
MAX_QUOTED = 40  # longest cell text quoted in a detail


@dataclass
class Context:
    """One file being parsed: its raw cells, the tools, and what went wrong so far."""

    raw: pd.DataFrame
    layout: Layout
    pseudonymiser: Pseudonymiser
    regions: RegionIndex
    warnings: list[str] = field(default_factory=list)
    _rejects: list[pd.DataFrame] = field(default_factory=list)
    _text: dict[str, pd.Series] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.raw)

    def cell(self, column: str) -> pd.Series:
        """Raw cells of a column; an absent optional column reads as all-empty."""
        if column in self.raw.columns:
            return self.raw[column]
        return pd.Series(pd.NA, index=self.raw.index, dtype="str")

    def text(self, column: str) -> pd.Series:
        """Cells as trimmed text, NA when empty (computed once per column)."""
        if column not in self._text:
            self._text[column] = V.as_text(self.cell(column))
        return self._text[column]

    def warn_numeric_identifiers(self, column: str) -> None:
        """Warn when an XLSX identifier column holds numbers: Excel keeps 15 significant digits,
        so the last digit of a 16-digit NIK typed as a number is already lost."""
        cells = self.cell(column)
        if cells.dtype == object and cells.map(V.is_number).any():
            self.warnings.append(f"{column}: stored as numbers in the spreadsheet; 16-digit values may be truncated")

    def reject(self, mask: pd.Series, column: str | None, reason: str, detail: str | pd.Series) -> None:
        """Record ``reason`` for every row where ``mask`` is True.

        Args:
            mask: bool Series over the raw rows.
            column: canonical column at fault (None for row-level problems).
            reason: one of :data:`REJECT_REASONS`.
            detail: message, or a per-row Series of messages; never personal data.
        """
        assert reason in REJECT_REASONS, reason
        mask = mask.fillna(False).astype(bool) if mask.dtype != bool else mask
        if not mask.any():
            return
        positions = np.flatnonzero(mask.to_numpy())
        details = detail[mask].astype("str").to_numpy() if isinstance(detail, pd.Series) else detail
        self._rejects.append(pd.DataFrame({
            "position": positions, "column": column, "reason_code": reason, "detail": details,
        }))

    def reject_bad(self, bad: pd.Series, column: str, reason: str, what: str) -> None:
        """Reject unparseable cells of a non-personal column, quoting the (shortened) value."""
        if bad.any():
            quoted = self.text(column).str.slice(0, MAX_QUOTED)
            self.reject(bad, column, reason, f"{what}: '" + quoted.fillna("") + "'")

    def rejects(self) -> pd.DataFrame:
        if not self._rejects:
            return pd.DataFrame({"position": pd.Series([], dtype="int64"), "column": [], "reason_code": [],
                                 "detail": []})
        return pd.concat(self._rejects, ignore_index=True)

    def require(self) -> None:
        """``missing_value`` for every empty cell of a required column present in the file."""
        for column in self.layout.canonical:
            if column in self.layout.required and column in self.raw.columns:
                self.reject(self.text(column).isna(), column, "missing_value", "required value is empty")

    # Typed columns -----------------------------------------------------------------------

    def decimal(self, column: str, **kwargs) -> pd.Series:
        result, bad = V.parse_decimal(self.cell(column), **kwargs)
        self.reject_bad(bad, column, "invalid_number", "not a number")
        return result

    def integer(self, column: str, *, amount: bool = False, reason: str = "invalid_number") -> pd.Series:
        result, bad = V.parse_int(self.cell(column), amount=amount)
        self.reject_bad(bad, column, reason, "not a whole number")
        return result

    def in_range(self, column: str, values: pd.Series, low: float, high: float,
                 reason: str = "out_of_range") -> pd.Series:
        """Reject values outside [low, high]; returns the values with those set to NA."""
        outside = values.notna() & ~values.between(low, high)
        self.reject(outside, column, reason, f"outside {low:g}..{high:g}: " + values.astype("str"))
        return values.mask(outside)

    def date(self, column: str) -> pd.Series:
        parsed = V.parse_dates(self.cell(column))
        self.reject_bad(parsed.bad, column, "invalid_date", f"not a date (column read as {parsed.order})")
        if parsed.order != "mdy" and column in self.raw.columns and parsed.values.notna().any():
            self.warnings.append(f"{column}: slash dates read as {parsed.order}")
        return parsed.values

    def boolean(self, column: str) -> pd.Series:
        result, bad = V.parse_bool(self.cell(column))
        self.reject_bad(bad, column, "invalid_value", "not Ya/Tidak")
        return result

    def enum(self, column: str, mapping: dict[str, object], reason: str = "invalid_value",
             dtype: str = "str") -> pd.Series:
        result, bad = V.parse_enum(self.cell(column), mapping, dtype)
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
        codes = normalise_codes(self.cell(column))
        unknown = codes.notna() & ~self.regions.validate_code(codes, level)
        self.reject(unknown, column, "unknown_region_code",
                    f"code not in the region master at level {level}: " + codes.fillna(""))
        return codes


def _json_default(value: object) -> object:
    return value.item() if hasattr(value, "item") else str(value)


def payload_json(frame: pd.DataFrame) -> list[str]:
    """One JSON object per row (NA -> null, non-ASCII kept); only called for rejected rows."""
    if frame.empty:
        return []
    records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    return [json.dumps(r, ensure_ascii=False, default=_json_default) for r in records]
