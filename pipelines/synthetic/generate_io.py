"""Writing helpers for the demo generator: Indonesian-Excel number and date text, CSV files in
the encodings the field actually sends, and deterministic "received" timestamps."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

UTC = dt.UTC


def _excel_general(scaled: int, decimals: int) -> str:
    text = f"{scaled / 10**decimals:.{decimals}f}"
    if decimals:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text.replace(".", ",")


def dec_comma(values: np.ndarray, decimals: int = 1) -> np.ndarray:
    """Numbers as an Indonesian Excel writes them in a CSV: decimal comma, no trailing zeros
    (General format), empty text for NaN. Returns an object array."""
    vals = np.asarray(values, dtype=float)
    nan = np.isnan(vals)
    scaled = np.rint(np.where(nan, 0.0, vals) * 10**decimals).astype(np.int64)
    # Few distinct values per column: format each once.
    uniq, inv = np.unique(scaled, return_inverse=True)
    table = np.array([_excel_general(int(k), decimals) for k in uniq] + [""], dtype=object)
    return table[np.where(nan, len(uniq), inv.reshape(-1))]


def thousand_dots(values: np.ndarray) -> np.ndarray:
    """Whole Rupiah amounts with dot thousand separators (``12.500.000``)."""
    return np.array([f"{int(v):,}".replace(",", ".") for v in values], dtype=object)


def mdy(days: np.ndarray) -> np.ndarray:
    """``datetime64[D]`` as ``m/d/yyyy`` text (US-style, as Excel's CSV export writes it)."""
    uniq, inv = np.unique(np.asarray(days, dtype="datetime64[D]"), return_inverse=True)
    table = np.array([f"{d.month}/{d.day}/{d.year}" for d in uniq.tolist()], dtype=object)
    return table[inv.reshape(-1)]


def excel_serials(days: np.ndarray) -> np.ndarray:
    """``datetime64[D]`` as Excel serial day numbers (1900 date system)."""
    return (np.asarray(days, dtype="datetime64[D]") - np.datetime64("1899-12-30")).astype(int)


def csv_bytes(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    delimiter: str = ";",
    encoding: str = "utf-8",
    crlf: bool = True,
) -> bytes:
    """One CSV file's bytes; ``encoding="utf-8-sig"`` writes the BOM Excel adds."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return buf.getvalue().encode(encoding)


def csv_bytes_fast(headers: Sequence[str], rows: Sequence[Sequence[str]], *, delimiter: str = ";",
                   encoding: str = "utf-8") -> bytes:
    """Same bytes as :func:`csv_bytes` with CRLF for all-text rows, several times faster when no
    field needs quoting (checked; falls back to the csv module otherwise)."""
    lines = [delimiter.join(headers), *map(delimiter.join, rows)]
    text = "\r\n".join(lines) + "\r\n"
    expected = len(lines) * (len(headers) - 1)
    if text.count(delimiter) != expected or '"' in text or text.count("\n") != len(lines) \
            or text.count("\r") != len(lines):
        return csv_bytes(headers, rows, delimiter=delimiter, encoding=encoding)
    return text.encode(encoding)


def write_bytes(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def set_received(path: Path, received: dt.datetime) -> None:
    """Stamp the file's mtime: downstream reads it as the submission's received_at."""
    ts = received.timestamp()
    os.utime(path, (ts, ts))


def received_after(period_end: dt.date, days_late: float) -> dt.datetime:
    """A UTC timestamp ``days_late`` days after the end of the period."""
    base = dt.datetime(period_end.year, period_end.month, period_end.day, tzinfo=UTC)
    return base + dt.timedelta(days=float(days_late))


def period_end(period: str) -> dt.date:
    """Last day of a ``YYYY``, ``YYYY-Qn`` or ``YYYY-MM`` period."""
    year = int(period[:4])
    if len(period) == 4:
        return dt.date(year, 12, 31)
    if "Q" in period:
        last_month = int(period[-1]) * 3
    else:
        last_month = int(period[5:7])
    nxt = dt.date(year + (last_month == 12), last_month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)
