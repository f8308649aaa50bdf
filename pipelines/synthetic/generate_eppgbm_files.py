"""Writing simulated e-PPGBM visits as the files villages send: Indonesian-Excel CSVs (``;``,
decimal comma, ``m/d/yyyy``, CRLF, BOM / no BOM / Windows-1252) and XLSX with dates stored
as plain Excel serial numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipelines.parsing.layouts import CHILD_MEASUREMENTS
from pipelines.synthetic import generate_growth as growth
from pipelines.synthetic import generate_io as gio
from pipelines.synthetic.generate_children import Visits
from pipelines.synthetic.generate_xlsx import write_xlsx

HEADERS = CHILD_MEASUREMENTS.headers
CANONICAL = CHILD_MEASUREMENTS.canonical
_ONE_DECIMAL = ("birth_weight_kg", "birth_length_cm", "weight_kg", "lenhei_cm", "muac_cm")
_TWO_DECIMALS = ("waz_export", "haz_export", "whz_export")
_DATES = ("birth_date", "measured_on")
# Columns dropped from the deliberately incomplete file (all required).
MISSING_HEADERS = ("Tanggal Pengukuran", "Berat", "Tinggi")


def restore_clean(v: Visits, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Columns for ``rows`` with every quirk undone: what a corrected re-submission sends."""
    cols = {k: np.array(val[rows], copy=True) for k, val in v.cols.items()}
    q = v.quirked[rows]
    for key in ("weight_kg", "lenhei_cm", "birth_date", "waz_export", "haz_export", "whz_export"):
        cols[key] = np.where(q, v.clean[key][rows], cols[key])
    cols["birth_date_text"] = np.where(q, "", cols["birth_date_text"])
    first_name = cols["village_name"][~q][:1]
    if len(first_name):
        cols["village_name"] = np.where(q, first_name[0], cols["village_name"])
    for index, z_key, label_key in (("waz", "waz_export", "wfa_label"), ("haz", "haz_export", "hfa_label"),
                                    ("whz", "whz_export", "wfh_label")):
        cols[label_key] = growth.labels(index, cols[z_key])
    return cols


def csv_columns(cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every column as the text an Indonesian Excel writes into a CSV."""
    out = {}
    for key, val in cols.items():
        if key in _ONE_DECIMAL:
            out[key] = gio.dec_comma(val, 1)
        elif key in _TWO_DECIMALS:
            out[key] = gio.dec_comma(val, 2)
        elif key == "vit_a_doses":
            out[key] = gio.dec_comma(val, 0)
        elif key in _DATES:
            out[key] = gio.mdy(val)
        else:
            out[key] = val
    out["birth_date"] = np.where(cols["birth_date_text"] != "", cols["birth_date_text"], out["birth_date"])
    return out


def _rows(cols: dict[str, np.ndarray], lo: int, hi: int, keys=CANONICAL, text: bool = False) -> list[tuple]:
    numbers = range(1, hi - lo + 1)
    series = [(list(map(str, numbers)) if text else numbers) if k == "row_no" else _as_list(cols[k][lo:hi])
              for k in keys]
    return list(zip(*series, strict=True))


def _as_list(values) -> list:
    return values.tolist() if isinstance(values, np.ndarray) else list(values)


def write_csv(path: Path, text_cols: dict[str, np.ndarray], lo: int, hi: int, encoding: str,
              drop_headers: tuple[str, ...] = ()) -> int:
    keep = [(c, h) for c, h in CHILD_MEASUREMENTS.columns if h not in drop_headers]
    rows = _rows(text_cols, lo, hi, [c for c, _ in keep], text=True)
    gio.write_bytes(path, gio.csv_bytes_fast([h for _, h in keep], rows, delimiter=";", encoding=encoding))
    return hi - lo


def write_xlsx_file(path: Path, cols: dict[str, np.ndarray], lo: int, hi: int) -> int:
    """XLSX as exported from e-PPGBM: numbers as numbers, dates as bare serial numbers."""
    xl = {}
    for key, val in cols.items():
        part = val[lo:hi]
        if key in _DATES:
            xl[key] = gio.excel_serials(part).tolist()
        elif key == "vit_a_doses":
            xl[key] = [None if np.isnan(x) else int(x) for x in part]
        else:
            xl[key] = part.tolist()
    bad = cols["birth_date_text"][lo:hi]
    xl["birth_date"] = [t if t else s for s, t in zip(xl["birth_date"], bad.tolist(), strict=True)]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_xlsx(path, HEADERS, _rows(xl, 0, hi - lo))
    return hi - lo
