"""WHO Child Growth Standards 2006 LMS tables, loaded once from the `pygrowup` package.

The tables are the by-day expanded tables that WHO publishes (and that the `anthro` R package ships):
length/height-for-age (`lfa`) and weight-for-age (`wfa`) by age in days 0-1856, weight-for-length
(`wfl`, 45-110 cm) and weight-for-height (`wfh`, 65-120 cm) in 0.1 cm steps. pygrowup stores them as
Python dicts of `Decimal`; we convert each value once with `float(Decimal)`, which is correctly rounded,
so the doubles equal the ones R gets when it parses the same decimal text.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

INDICATORS = ("lfa", "wfa", "wfl", "wfh")
# pygrowup keys sexes by name; our code (like anthro) uses 1 = male, 2 = female.
SEX_CODES = {"male": 1, "female": 2}
DEFAULT_TABLE = "reference.who_growth_lms"

# Grid of each table: (first grid index, grid units per x unit). Length tables are indexed in tenths of
# a cm so that lookups are integer arithmetic (anthro joins on trunc(lenhei * 10) / 10: the same row).
_GRID = {
    "lfa": (0, 1),
    "wfa": (0, 1),
    "wfl": (450, 10),
    "wfh": (650, 10),
}


@dataclass(frozen=True)
class LmsArrays:
    """Dense LMS arrays of one indicator, shaped (2, n): row 0 male, row 1 female.

    Attributes:
        first: grid index of column 0 (age day, or length in tenths of a cm).
        l: Box-Cox power L per sex and grid point.
        m: median M per sex and grid point.
        s: coefficient of variation S per sex and grid point.
    """

    first: int
    l: np.ndarray  # noqa: E741 - WHO's own name for the Box-Cox power
    m: np.ndarray
    s: np.ndarray

    @property
    def size(self) -> int:
        """Number of grid points per sex."""
        return self.m.shape[1]


def _grid_index(indicator: str, x: float) -> int:
    """Grid index of one table x: age day as is, length/height in tenths of a cm."""
    return int(round(x * _GRID[indicator][1]))


def lms_tables() -> pd.DataFrame:
    """Return the four WHO LMS tables as one long frame (read from pygrowup once per process).

    Returns:
        DataFrame with one row per indicator x sex x grid point and columns `indicator`
        ('lfa', 'wfa', 'wfl', 'wfh'), `sex` (1 male, 2 female), `x` (age in days for lfa/wfa,
        length or height in cm for wfl/wfh), `l`, `m`, `s`. A copy: changing it changes no z-score.
    """
    return _lms_tables().copy()


@functools.lru_cache(maxsize=1)
def _lms_tables() -> pd.DataFrame:
    frames = []
    for indicator in INDICATORS:
        data = importlib.import_module(f"pygrowup.tables.by_day.{indicator}").DATA
        for sex_name, sex_code in SEX_CODES.items():
            rows = data[sex_name]
            keys = sorted(rows)
            frames.append(
                pd.DataFrame(
                    {
                        "indicator": indicator,
                        "sex": np.int8(sex_code),
                        "x": [float(k) for k in keys],
                        "l": [float(rows[k]["l"]) for k in keys],
                        "m": [float(rows[k]["m"]) for k in keys],
                        "s": [float(rows[k]["s"]) for k in keys],
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


@functools.lru_cache(maxsize=1)
def lms_arrays() -> dict[str, LmsArrays]:
    """Return the LMS tables as dense numpy arrays for vectorised lookups.

    Returns:
        Mapping indicator -> LmsArrays. Raises ValueError if a table is not a gap-free grid, since the
        lookups index by arithmetic and a gap would silently pick a wrong row.
    """
    frame = _lms_tables()
    arrays = {}
    for indicator in INDICATORS:
        first = _GRID[indicator][0]
        part = frame[frame["indicator"] == indicator]
        per_sex = []
        for sex_code in (1, 2):
            rows = part[part["sex"] == sex_code]
            idx = np.array([_grid_index(indicator, x) for x in rows["x"]])
            expected = np.arange(first, first + len(rows))
            if not np.array_equal(idx, expected):
                raise ValueError(f"WHO table {indicator} (sex {sex_code}) is not a contiguous grid")
            per_sex.append(rows)
        arrays[indicator] = LmsArrays(
            first=first,
            l=np.vstack([r["l"].to_numpy(dtype=np.float64) for r in per_sex]),
            m=np.vstack([r["m"].to_numpy(dtype=np.float64) for r in per_sex]),
            s=np.vstack([r["s"].to_numpy(dtype=np.float64) for r in per_sex]),
        )
    return arrays


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def load_into_duckdb(con, table: str = DEFAULT_TABLE) -> int:
    """(Re)create the WHO LMS reference table in DuckDB from `lms_tables()`.

    Grain: one row per indicator x sex x grid point (age day or 0.1 cm of length/height).

    Args:
        con: an open `duckdb.DuckDBPyConnection`.
        table: target table, optionally schema-qualified (`schema.table`); the schema is created if missing
            and the table replaced atomically, so a rerun leaves exactly one copy.

    Returns:
        Number of rows written.
    """
    parts = table.split(".")
    if len(parts) > 2 or not all(parts):
        raise ValueError(f"table must be 'name' or 'schema.name', got {table!r}")
    target = ".".join(_quote_ident(p) for p in parts)
    frame = _lms_tables()
    view = "_who_growth_lms_src"
    con.register(view, frame)
    try:
        # No explicit transaction: CREATE OR REPLACE ... AS SELECT is atomic on its own, and this way the
        # call also works inside a transaction the caller already opened.
        if len(parts) == 2:
            con.execute(f"create schema if not exists {_quote_ident(parts[0])}")
        con.execute(
            f"create or replace table {target} as "
            f"select indicator::varchar as indicator, sex::tinyint as sex, x::double as x, "
            f"l::double as l, m::double as m, s::double as s from {view} "
            f"order by indicator, sex, x"
        )
    finally:
        con.unregister(view)
    return int(len(frame))
