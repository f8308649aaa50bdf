"""Analyst batch calculator: WHO z-scores for a CSV of measurements, streamed in chunks.

Input: a CSV with at least `sex`, `age_days`, `weight_kg`, `lenhei_cm`, `measure` (other columns are
carried through untouched). Output: every input column as it was written, then `haz`, `waz`, `whz`
(rounded to 2 decimals as WHO anthro does: the values to classify; empty when WHO gives no score),
`flag_haz`, `flag_waz`, `flag_whz` (0/1, on the rounded values) and `haz_unrounded`, `waz_unrounded`,
`whz_unrounded` (the exact values).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.growth.zscores import SCORES, UNROUNDED, compute_zscores

INPUT_COLUMNS = ("sex", "age_days", "weight_kg", "lenhei_cm", "measure")
NUMERIC_COLUMNS = ("age_days", "weight_kg", "lenhei_cm")
FLAG_COLUMNS = ("flag_haz", "flag_waz", "flag_whz")
OUTPUT_COLUMNS = (*SCORES, *FLAG_COLUMNS, *UNROUNDED)
DEFAULT_CHUNK_ROWS = 250_000

_SEX_VALUES = {"1": 1.0, "2": 2.0, "1.0": 1.0, "2.0": 2.0}
_MEASURE_VALUES = {"l", "h"}
# Cells read as missing besides empty ones: what R's write.csv and pandas' to_csv leave for NA.
MISSING_MARKERS = ("", "NA", "NaN", "nan")


def zscores_csv(in_path, out_path, *, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> int:
    """Score every row of a measurements CSV and write the CSV with z-scores and flags added.

    The file is read and written `chunk_rows` rows at a time, so memory does not grow with the file.
    The output is written to a temporary file beside `out_path` and renamed at the end: a bad row
    never leaves a half-written output behind.

    Args:
        in_path: input CSV (UTF-8, optional BOM) with columns sex (1/2), age_days, weight_kg, lenhei_cm,
            measure ('l'/'h' in any case, or empty). Empty cells and NA/NaN/nan are missing values.
        out_path: output CSV path (replaced if it exists).
        chunk_rows: rows per chunk.

    Returns:
        Number of data rows written.

    Raises:
        ValueError: if a required column is missing, an output column already exists in the input, or
            a cell cannot be read (the message names the data row, its file line and the column).
    """
    in_path, out_path = Path(in_path), Path(out_path)
    tmp_path = out_path.with_name(out_path.name + ".part")
    written = 0
    try:
        reader = pd.read_csv(
            in_path,
            dtype=str,
            keep_default_na=False,
            chunksize=chunk_rows,
            encoding="utf-8-sig",
        )
        header_done = False
        for chunk in reader:
            if not header_done:
                _check_header(list(chunk.columns))
            scored = _score_chunk(chunk, first_row=written + 1)
            scored.to_csv(tmp_path, mode="a" if header_done else "w", header=not header_done, index=False)
            header_done = True
            written += len(chunk)
        if not header_done:
            # pandas yields no chunk for a header-only file: still validate and write the header.
            columns = list(pd.read_csv(in_path, dtype=str, nrows=0, encoding="utf-8-sig").columns)
            _check_header(columns)
            pd.DataFrame(columns=[*columns, *OUTPUT_COLUMNS]).to_csv(tmp_path, index=False)
        os.replace(tmp_path, out_path)
    except pd.errors.EmptyDataError:
        tmp_path.unlink(missing_ok=True)
        raise ValueError(
            f"{in_path.name}: empty file, expected a header with {', '.join(INPUT_COLUMNS)}"
        ) from None
    except pd.errors.ParserError as exc:
        tmp_path.unlink(missing_ok=True)
        raise ValueError(f"{in_path.name}: not a readable CSV: {exc}") from None
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return written


def _check_header(columns: list[str]) -> None:
    missing = [c for c in INPUT_COLUMNS if c not in columns]
    if missing:
        raise ValueError(f"missing required column(s): {', '.join(missing)} (found: {', '.join(columns)})")
    clash = [c for c in OUTPUT_COLUMNS if c in columns]
    if clash:
        raise ValueError(f"input already has output column(s): {', '.join(clash)}")


def _bad_cell(first_row: int, position: int, column: str, value: str, expected: str) -> ValueError:
    row = first_row + position
    # Only the five measurement columns are ever quoted, never identifying columns.
    shown = value if len(value) <= 20 else value[:20] + "..."
    return ValueError(f"row {row} (line {row + 1}), column {column!r}: {shown!r} is not {expected}")


def _score_chunk(chunk: pd.DataFrame, first_row: int) -> pd.DataFrame:
    cols = {}
    for name in NUMERIC_COLUMNS:
        text = chunk[name].str.strip()
        missing = text.isin(MISSING_MARKERS)
        values = pd.to_numeric(text.where(~missing), errors="coerce")
        bad = ~missing & ~np.isfinite(values.to_numpy(dtype=np.float64, na_value=np.nan))
        if bad.any():
            pos = int(np.flatnonzero(bad.to_numpy())[0])
            raise _bad_cell(first_row, pos, name, chunk[name].iloc[pos], "a number")
        cols[name] = values.to_numpy(dtype=np.float64, na_value=np.nan)

    sex_text = chunk["sex"].str.strip()
    sex = sex_text.map(_SEX_VALUES)
    bad = sex.isna() & ~sex_text.isin(MISSING_MARKERS)
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise _bad_cell(first_row, pos, "sex", chunk["sex"].iloc[pos], "1 (male) or 2 (female)")

    measure = chunk["measure"].str.strip()
    measure = measure.where(~measure.isin(MISSING_MARKERS), "").str.lower()
    bad = ~measure.isin(_MEASURE_VALUES) & (measure != "")
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise _bad_cell(first_row, pos, "measure", chunk["measure"].iloc[pos], "'l', 'h' or empty")

    z = compute_zscores(
        sex.to_numpy(dtype=np.float64, na_value=np.nan),
        cols["age_days"],
        cols["weight_kg"],
        cols["lenhei_cm"],
        measure.astype("category"),
    )
    out = chunk.copy()
    for name in OUTPUT_COLUMNS:
        # to_csv writes the shortest exact repr (-2.0, 5.01), and NaN as an empty cell
        out[name] = z[name].to_numpy().astype(np.int8) if name in FLAG_COLUMNS else z[name].to_numpy()
    return out
