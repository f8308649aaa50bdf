"""Who sent a file and for which period, read from its rows when its name does not say.

The naming convention ``<submitter_code>_<period>`` (:mod:`pipelines.ingestion.identity`) is the
fast path; a file named otherwise (``Data Pengukuran Balita Agustus 2024.csv``), or a portal
upload whose listing carries no metadata, is identified from its content, per file, after
parsing (:func:`derive_identities`; pure):

* **Submitter**: the smallest region that contains every row (Kemendagri codes are dotted
  prefixes: all rows in one village -> that village; else their district; else their regency;
  else the province) from the stream's region column (e-PPGBM: the village its names resolve to;
  P3KE and scorecards: ``Kode Kemendagri``; aksi, lokus and survey figures: the regency code).
  Rows whose region did not resolve do not count; none resolved -> ``submitter_unknown``. OPD
  reports: their one OPD code (several -> ``submitter_unknown``).
* **Period** by the stream's grain: e-PPGBM the month most measurement dates fall in (the parser
  settles it early, it decides which rows are ``measured_outside_period``); scorecards and OPD
  reports the most common year and quarter; aksi, lokus and survey figures the most common year.
  A tie goes to the later period (an export covering two months equally reports the later one).
  P3KE registers carry no year: ``period_unknown`` unless the name or the portal gives it.

A refusal's detail names the columns and what the operator can do; it quotes region codes and
column headers only, never a cell of a personal column.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.parsing.layouts import LAYOUTS, PERIOD_GRAIN
from pipelines.parsing.values import arrow_values

LEVEL_BY_SEGMENTS = {1: "province", 2: "regency", 3: "district", 4: "village"}
# stream -> (column naming the submitter, how the period is told: measured_on / year / year_quarter / None)
SOURCES = {
    "child_measurements": ("village_code", "measured_on"),
    "households": ("village_code", None),
    "village_scorecard": ("village_code", "year_quarter"),
    "aksi_reports": ("regency_code", "year"),
    "lokus_villages": ("regency_code", "year"),
    "survey_figures": ("regency_code", "year"),
    "opd_programmes": ("opd_code", "year_quarter"),
}
# Columns whose cells a submitter_unknown detail names, by their headers as exported.
REGION_COLUMNS = {"child_measurements": ("regency_name", "district_name", "village_name")}
_EXAMPLE_PERIOD = {"month": "2024-08", "quarter": "2024-Q3", "year": "2024"}


@dataclass(frozen=True)
class FileHints:
    """What is known of a file before it is parsed: submitter and period from its name or the
    portal's metadata (None: to be read from its rows), and when it was received (UTC)."""

    submitter_code: str | None = None
    period: str | None = None
    received_at: dt.datetime | None = None


@dataclass(frozen=True)
class FileIdentity:
    submitter_level: str
    submitter_code: str
    period: str


def submitter_level(code: str) -> str:
    """``village``/``district``/``regency``/``province`` by the segments of a Kemendagri code;
    ``opd`` for anything else (an OPD code such as ``DINKES``)."""
    parts = code.split(".")
    if all(p.isdigit() for p in parts):
        return LEVEL_BY_SEGMENTS.get(len(parts), "opd")
    return "opd"


def common_region(codes: list[str]) -> str | None:
    """The smallest region containing every code (their longest common dotted prefix); None when
    they span provinces or there is no code."""
    split = [c.split(".") for c in codes]
    if not split:
        return None
    prefix = []
    for segments in zip(*split, strict=False):
        if len(set(segments)) > 1:
            break
        prefix.append(segments[0])
    return ".".join(prefix) or None


def _headers(stream: str, columns: tuple[str, ...]) -> str:
    named = dict(LAYOUTS[stream].columns)
    return ", ".join(named[c] for c in columns)


def _rename(stream: str, code: str | None, ext: str) -> str:
    grain = PERIOD_GRAIN[stream]
    kind, example_code = ("OPD", "DINKES") if SOURCES[stream][0] == "opd_code" else ("region", "36.04.15")
    return f"rename the file <{kind} code>_<{grain}>.{ext} (e.g. {code or example_code}_{_EXAMPLE_PERIOD[grain]}.{ext})"


def submitter_refusal(stream: str, codes: list[str], ext: str) -> str:
    """``submitter_unknown: ...`` for a file whose rows name no single submitter."""
    column = SOURCES[stream][0]
    where = _headers(stream, REGION_COLUMNS.get(stream, (column,)))
    if not codes:
        what = (f"no row's region could be read from {where} (unknown or empty names/codes)" if column != "opd_code"
                else f"no row has an OPD code in {where}")
        fix = f"fix {where} so that they match the Kemendagri region master" if column != "opd_code" else f"fill {where}"
    elif column == "opd_code":
        what, fix = f"the rows name several OPDs in {where} ({', '.join(sorted(codes)[:5])})", "send one file per OPD"
    else:
        provinces = sorted({c.split(".")[0] for c in codes})
        what, fix = f"the rows of {where} span several provinces ({', '.join(provinces[:5])})", "send one file per province"
    return f"submitter_unknown: {what}; {fix}, or {_rename(stream, None, ext)}"


def period_refusal(stream: str, code: str | None, ext: str) -> str:
    """``period_unknown: ...`` for a file whose rows tell no period."""
    how = SOURCES[stream][1]
    if how is None:
        return f"period_unknown: the file has no year column (P3KE registers do not); {_rename(stream, code, ext)}"
    columns = {"measured_on": ("measured_on",), "year": ("year",), "year_quarter": ("year", "quarter")}[how]
    where = _headers(stream, columns)
    return f"period_unknown: no row has a readable {where}; fix that column, or {_rename(stream, code, ext)}"


def most_common_period(files: np.ndarray, labels: pd.Series, n: int) -> list[str | None]:
    """Per file, the period label most of its rows carry (NA labels ignored; a tie goes to the
    later label, labels sorting as periods do). Counted by Arrow (no Python string per row: an
    e-PPGBM batch's 130k labels, 22-32 -> 8 ms)."""
    out: list[str | None] = [None] * n
    table = pa.table({"f": pa.array(np.asarray(files, dtype="int64")), "p": arrow_values(labels.astype("str"))})
    table = table.filter(pc.is_valid(table["p"]))
    if not table.num_rows:
        return out
    counts = table.group_by(["f", "p"], use_threads=False).aggregate([("p", "count")]).sort_by(
        [("f", "ascending"), ("p_count", "descending"), ("p", "descending")])
    f = counts["f"].to_numpy()
    first = np.ones(len(f), dtype=bool)
    first[1:] = f[1:] != f[:-1]
    for file, label in zip(f[first].tolist(), counts["p"].filter(pa.array(first)).to_pylist(), strict=True):
        out[file] = label
    return out


def period_labels(stream: str, typed: pd.DataFrame) -> pd.Series | None:
    """The period each row reports, as a label of the stream's grain (None: the stream has none)."""
    how = SOURCES[stream][1]
    if how is None:
        return None
    if how == "measured_on":
        return typed["measured_on"].astype("string").str.slice(0, 7)
    year = typed["year"].astype("Int64").astype("string")
    if how == "year":
        return year
    return (year + "-Q" + typed["quarter"].astype("Int64").astype("string")).astype("string")


def _submitters(stream: str, typed: pd.DataFrame, files: np.ndarray, n: int, valid: pd.Series) -> list[list[str]]:
    """Per file, the distinct submitter codes of its rows (valid ones only)."""
    column = SOURCES[stream][0]
    codes = typed[column].astype("string")
    if column == "opd_code":
        codes = codes.str.upper()
    ok = (codes.notna() & valid).to_numpy(dtype=bool)
    out: list[list[str]] = [[] for _ in range(n)]
    pairs = pd.DataFrame({"f": files[ok], "c": codes[ok].to_numpy(dtype=object)}).drop_duplicates()
    for f, c in zip(pairs["f"].tolist(), pairs["c"].tolist(), strict=True):
        out[f].append(c)
    return out


def derive_identities(stream: str, typed: pd.DataFrame, files: np.ndarray, hints: list[FileHints],
                      periods: list[str | None], valid_codes: pd.Series | None, extensions: list[str],
                      ) -> list[FileIdentity | str]:
    """Per file: its identity (hints first, then its rows), or why it has none
    (``"submitter_unknown: ..."`` / ``"period_unknown: ..."``).

    Args:
        typed: the parser's rows of every file; ``files`` the file of each row.
        periods: periods the parser already settled per file (e-PPGBM), else None.
        valid_codes: per row, whether its submitter column holds a code the region master knows
            (None when every file's hints name its submitter).
        extensions: per file, the extension to suggest in a rename.
    """
    n = len(hints)
    need_code = [h.submitter_code is None for h in hints]
    need_period = [p is None and h.period is None for h, p in zip(hints, periods, strict=True)]
    keep = np.array(need_code, dtype=bool)[files] if len(files) else np.zeros(0, bool)
    codes = _submitters(stream, typed[keep], files[keep], n, valid_codes[keep]) if any(need_code) else [[]] * n
    labels = period_labels(stream, typed) if any(need_period) else None
    derived = most_common_period(files, labels, n) if labels is not None else [None] * n
    out: list[FileIdentity | str] = []
    for f, h in enumerate(hints):
        code = h.submitter_code
        if code is None:
            code = codes[f][0].upper() if SOURCES[stream][0] == "opd_code" and len(codes[f]) == 1 else (
                common_region(codes[f]) if SOURCES[stream][0] != "opd_code" else None)
            if code is None:
                out.append(submitter_refusal(stream, codes[f], extensions[f]))
                continue
        period = h.period or periods[f] or derived[f]
        if period is None:
            out.append(period_refusal(stream, code, extensions[f]))
            continue
        out.append(FileIdentity(submitter_level(code), code, period))
    return out
