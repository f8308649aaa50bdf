"""Submission file -> typed, pseudonymised rows plus row-level rejects (one call per file).

:func:`parse_submission` is the single entry point used by ingestion. It never raises for a
bad file: a file that cannot be read at all comes back with ``file_error`` set, a bad row
comes back in ``rejects`` (one reject per offending cell, each naming its column) and every
other row in ``rows``. Rows are NOT de-duplicated here; ``row_number`` lets the loader keep the
last row of a duplicate group.

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

from pipelines.sources import values as V
from pipelines.sources.layouts import LAYOUTS
from pipelines.sources.parse_context import REJECT_COLUMNS, Context, payload_json
from pipelines.sources.parse_streams import STREAM_PARSERS, token_with_scope
from pipelines.sources.pseudonym import Pseudonymiser, child_ids
from pipelines.sources.readers import FileError, RawTable, read_table
from pipelines.sources.regions import RegionIndex

WEIGHT_RANGE_KG = (0.9, 58.0)  # WHO anthro clean-up bounds
LENHEI_RANGE_CM = (38.0, 150.0)
Z_SENTINEL = 999.99
# Free-text columns kept out of reject payloads: nobody controls what a cadre types there.
FREE_TEXT = frozenset({"detail"})
REGION_REASONS = (
    ("unknown_regency", "regency_name"),
    ("unknown_district", "district_name"),
    ("unknown_village", "village_name"),
)


@dataclass
class ParseResult:
    """Outcome of parsing one submission file.

    ``rows``: accepted rows, ``row_number`` (header = row 1; JSON: 1-based record index) plus
    the stream's typed canonical columns with personal data replaced by tokens.
    ``rejects``: ``row_number, column, reason_code, detail, payload`` (payload = JSON of the
    row's non-personal cells as read plus its tokens).
    ``n_source_rows``: data rows read, so ``accepted + distinct rejected rows == n_source_rows``.
    """

    rows: pd.DataFrame
    rejects: pd.DataFrame
    file_error: str | None
    n_source_rows: int
    warnings: list[str] = field(default_factory=list)

    @property
    def n_rejected_rows(self) -> int:
        return int(self.rejects["row_number"].nunique()) if len(self.rejects) else 0


def parse_child_measurements(ctx: Context) -> pd.DataFrame:
    """e-PPGBM export -> one row per measurement (grain: child x measurement date, duplicates kept)."""
    ctx.require()
    ctx.warn_numeric_identifiers("nik")
    birth = ctx.date("birth_date")
    measured = ctx.date("measured_on")
    after = (birth > measured).fillna(False).astype(bool)
    ctx.reject(after, "birth_date", "birth_after_measurement", "birth date is after the measurement date")

    weight = ctx.in_range("weight_kg", ctx.decimal("weight_kg"), *WEIGHT_RANGE_KG, reason="weight_out_of_range")
    lenhei = ctx.decimal("lenhei_cm")
    zero = lenhei.eq(0).fillna(False).astype(bool)
    ctx.reject(zero, "lenhei_cm", "missing_value", "0 means not measured")
    lenhei = ctx.in_range("lenhei_cm", lenhei.mask(zero), *LENHEI_RANGE_CM, reason="lenhei_out_of_range")

    birth_weight = ctx.decimal("birth_weight_kg", zero_is_null=True)
    birth_length = ctx.decimal("birth_length_cm", zero_is_null=True)
    # Birth weight typed in grams (3800) and length in mm (500) are common (DOMAIN.md §4, §8.4).
    grams, mm = birth_weight.gt(100), birth_length.gt(100)
    if grams.any() or mm.any():
        ctx.warnings.append(f"birth values rescaled: {int(grams.sum())} weights g->kg, {int(mm.sum())} lengths mm->cm")
    birth_weight = birth_weight.where(~grams, birth_weight / 1000)
    birth_length = birth_length.where(~mm, birth_length / 10)

    names = {c: ctx.text(c) for _, c in REGION_REASONS}
    region = ctx.regions.resolve(names["regency_name"], names["district_name"], names["village_name"])
    for reason, column in REGION_REASONS:
        failed = region["reason"].eq(reason).fillna(False) & names[column].notna()
        ctx.reject(failed.astype(bool), column, reason, region["detail"])
    village_code = region["village_code"]

    child_id, nik_valid = child_ids(
        ctx.pseudonymiser, ctx.cell("nik"), ctx.cell("child_name"), birth.astype("str"), village_code
    )
    n_fallback = int((~nik_valid & ctx.text("child_name").notna()).sum())
    if n_fallback:
        ctx.warnings.append(f"{n_fallback} rows without a 16-digit NIK: child_id from name, birth date, village")
    address_key = (ctx.text("address").fillna("") + "|RT " + ctx.text("rt").fillna("")
                   + "|RW " + ctx.text("rw").fillna(""))
    has_address = ctx.text("address").notna() | ctx.text("rt").notna() | ctx.text("rw").notna()

    gain = ctx.text("weight_gain_code").str.upper()
    return pd.DataFrame({
        "child_id": child_id,
        "nik_valid": nik_valid,
        "parent_id": token_with_scope(ctx, "parent", ctx.cell("parent_name"), village_code),
        "address_id": token_with_scope(ctx, "address", address_key.where(has_address), village_code),
        "sex": ctx.enum("sex", V.SEX_CODES, "invalid_sex", "Int64"),
        "birth_date": birth,
        "measured_on": measured,
        "weight_kg": weight,
        "lenhei_cm": lenhei,
        "measure": ctx.enum("measure_position", V.MEASURE_CODES),
        "muac_cm": ctx.decimal("muac_cm", zero_is_null=True),
        "birth_weight_kg": birth_weight,
        "birth_length_cm": birth_length,
        "haz_export": ctx.decimal("haz_export", sentinels=(Z_SENTINEL,)),
        "waz_export": ctx.decimal("waz_export", sentinels=(Z_SENTINEL,)),
        "whz_export": ctx.decimal("whz_export", sentinels=(Z_SENTINEL,)),
        "wfa_label": V.clean_label(ctx.cell("wfa_label")),
        "hfa_label": V.clean_label(ctx.cell("hfa_label")),
        "wfh_label": V.clean_label(ctx.cell("wfh_label")),
        "weight_gain_code": gain.where(gain.isin(["N", "T", "O", "B"]).astype(bool)),
        "regency_name": names["regency_name"],
        "district_name": names["district_name"],
        "village_name": names["village_name"],
        "village_code": village_code,
        "puskesmas": V.clean_label(ctx.cell("puskesmas")),
        "posyandu": V.clean_label(ctx.cell("posyandu")),
    }, index=ctx.raw.index)


PARSERS = {"child_measurements": parse_child_measurements, **STREAM_PARSERS}


def _personal_columns(ctx: Context) -> set[str]:
    # Columns reached only through an alias (a parent's phone, NIK or family card number) are
    # not in the layout's column list: treat them as personal by default.
    return set(ctx.layout.pii) | {c for c in ctx.raw.columns if c not in ctx.layout.canonical}


def _assemble(ctx: Context, typed: pd.DataFrame, raw: RawTable) -> ParseResult:
    rejects = ctx.rejects()
    row_numbers = np.asarray(raw.row_numbers, dtype="int64")
    rejected = np.zeros(ctx.n, dtype=bool)
    rejected[rejects["position"].to_numpy(dtype="int64")] = True

    rows = typed.reset_index(drop=True)
    rows.insert(0, "row_number", row_numbers)
    rows = rows[~rejected].reset_index(drop=True)

    personal = _personal_columns(ctx)
    keep = [c for c in ctx.layout.canonical if c in ctx.raw.columns and c not in personal | FREE_TEXT]
    tokens = [c for c in typed.columns if c.endswith("_id") or c == "nik_valid"]
    positions = np.flatnonzero(rejected)
    payload_frame = pd.concat(
        [ctx.raw.iloc[positions][keep].apply(V.as_text).reset_index(drop=True),
         typed.iloc[positions][tokens].reset_index(drop=True)],
        axis=1,
    )
    payload_by_pos = dict(zip(positions, payload_json(payload_frame), strict=True))
    out = pd.DataFrame({
        "row_number": row_numbers[rejects["position"].to_numpy(dtype="int64")],
        "column": rejects["column"].astype(object),
        "reason_code": rejects["reason_code"].astype("str"),
        "detail": rejects["detail"].astype("str"),
        "payload": [payload_by_pos[p] for p in rejects["position"]],
    })
    if raw.bad_rows:
        malformed = pd.DataFrame({
            "row_number": [r for r, _ in raw.bad_rows], "column": None, "reason_code": "malformed_row",
            "detail": [d for _, d in raw.bad_rows], "payload": "{}",
        })
        out = pd.concat([out, malformed], ignore_index=True) if len(out) else malformed
    out = out.sort_values(["row_number", "reason_code"], kind="stable").reset_index(drop=True)
    return ParseResult(rows, out[list(REJECT_COLUMNS)], None, ctx.n + len(raw.bad_rows), ctx.warnings)


def _empty_result(stream: str, error: str, pseudonymiser: Pseudonymiser, regions: RegionIndex,
                  warnings: list[str] | None = None) -> ParseResult:
    layout = LAYOUTS[stream]
    empty = pd.DataFrame({c: pd.Series([], dtype="str") for c in layout.canonical})
    ctx = Context(empty, layout, pseudonymiser, regions)
    rows = PARSERS[stream](ctx)
    rows.insert(0, "row_number", pd.Series([], dtype="int64"))
    rejects = pd.DataFrame({c: pd.Series([], dtype="int64" if c == "row_number" else object)
                            for c in REJECT_COLUMNS})
    return ParseResult(rows, rejects, error, 0, warnings or [])


def parse_submission(
    stream: str, content: bytes, file_name: str, *, pseudonymiser: Pseudonymiser, regions: RegionIndex
) -> ParseResult:
    """Parse one submission file of ``stream``.

    Args:
        stream: one of :data:`pipelines.sources.layouts.STREAMS`.
        content: the file's bytes (format detected from them).
        file_name: the file's name (its extension must agree with the content).
        pseudonymiser: keyed HMAC for personal columns.
        regions: region master index for name resolution and code validation.

    Returns:
        ParseResult; ``file_error`` is ``"<reason_code>: <message>"`` when the file is unusable.

    Raises:
        ValueError: unknown stream.
    """
    if stream not in PARSERS:
        raise ValueError(f"unknown stream {stream!r}")
    try:
        raw = read_table(content, file_name, LAYOUTS[stream])
    except FileError as exc:
        return _empty_result(stream, str(exc), pseudonymiser, regions)
    ctx = Context(raw.frame, LAYOUTS[stream], pseudonymiser, regions, list(raw.warnings))
    try:
        return _assemble(ctx, PARSERS[stream](ctx), raw)
    except Exception as exc:  # noqa: BLE001 - an exception message could quote personal cells
        where = traceback.extract_tb(exc.__traceback__)[-1]
        message = (f"internal_error: {type(exc).__name__} at {Path(where.filename).name}:{where.lineno} "
                   "(message withheld: it may quote personal data)")
    # Outside the except block, so no exception chain carrying cell values is attached.
    return _empty_result(stream, message, pseudonymiser, regions)
