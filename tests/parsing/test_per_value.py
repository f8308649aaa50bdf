"""Typing a column once per distinct cell (Context.per_value) gives what typing every row gives:
the hand-made exports in the real layouts, each file many times in one batch (so that every
non-personal column has few distinct cells and takes that path), parse to the same rows, rejects,
warnings and identities with the path forced on as with it off."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.parsing import parse_context
from pipelines.parsing.dates import DateCells, month_labels, scan_dates
from pipelines.parsing.file_identity import FileHints
from pipelines.parsing.parse import parse_batch_joined
from pipelines.parsing.parse_context import spread
from pipelines.parsing.pseudonym import Pseudonymiser
from tests.paths import FIXTURES

PSEUDO = Pseudonymiser(b"per-value-test-key-0123456789abcdef")
SOURCES = FIXTURES / "sources"
FILES = sorted(p.relative_to(SOURCES).as_posix() for p in SOURCES.glob("*/*.csv"))


def _parse(relative: str, regions, copies: int):
    stream, name = relative.split("/")
    content = (SOURCES / relative).read_bytes()
    hints = [FileHints(received_at=None)] * copies
    return parse_batch_joined(stream, [(name, content)] * copies, hints, pseudonymiser=PSEUDO, regions=regions)


@pytest.mark.parametrize("relative", FILES)
def test_a_file_repeated_in_a_batch_parses_the_same_per_distinct_cell(relative, regions, monkeypatch):
    monkeypatch.setattr(parse_context, "DISTINCT_MIN_ROWS", 10**9)
    per_row = _parse(relative, regions, 40)
    monkeypatch.setattr(parse_context, "DISTINCT_MIN_ROWS", 0)
    monkeypatch.setattr(parse_context, "DISTINCT_SHARE", 1.0)
    per_value = _parse(relative, regions, 40)
    pd.testing.assert_frame_equal(per_row.rows, per_value.rows)
    pd.testing.assert_frame_equal(per_row.rejects, per_value.rejects)
    assert np.array_equal(per_row.row_files, per_value.row_files)
    assert per_row.warnings == per_value.warnings and per_row.identities == per_value.identities
    assert per_row.file_errors == per_value.file_errors


def test_the_distinct_path_is_taken_on_a_repeated_batch_and_not_for_personal_columns(regions):
    content = (SOURCES / "child_measurements" / "eppgbm_bom_semicolon.csv").read_bytes()
    seen = []
    original = parse_context.Context.distinct

    def spy(self, column):
        found = original(self, column)
        seen.append((column, found is not None))
        return found

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(parse_context.Context, "distinct", spy)
        parse_batch_joined("child_measurements", [("a.csv", content)] * 100, [FileHints()] * 100,
                           pseudonymiser=PSEUDO, regions=regions)
    taken = {c for c, ok in seen if ok}
    assert {"weight_kg", "birth_date", "sex", "posyandu"} <= taken
    assert not taken & {"nik", "child_name", "parent_name", "address"}


def test_spread_takes_each_kind_of_result_by_code():
    codes = np.array([2, 0, 0, 1])
    index = pd.RangeIndex(10, 14)
    series = pd.Series([1.5, None, 3.0], dtype="float64")
    flags = np.array([True, False, True])
    out_series, out_flags = spread((series, flags), codes, index)
    assert out_series.index.equals(index) and out_series.tolist()[:3] == [3.0, 1.5, 1.5] and np.isnan(out_series[13])
    assert out_flags.tolist() == [True, True, True, False]
    cells = scan_dates(pd.Series(["16/08/2024", "2024-08-01", None], dtype="str"))
    spread_cells = spread(cells, codes, index)
    assert isinstance(spread_cells, DateCells) and spread_cells.index.equals(index)
    assert spread_cells.present.tolist() == [False, True, True, True]


def test_month_labels_format_each_month_key():
    keys = np.array([2024 * 12 + 7, -1, 2023 * 12 + 11, 2024 * 12 + 7])
    assert month_labels(keys).tolist()[::2] == ["2024-08", "2023-12"] and pd.isna(month_labels(keys)[1])


def test_rejected_row_payloads_are_the_json_of_their_cells_column_type_by_type():
    """payload_json reads Arrow columns through Arrow: the same text as boxing every cell (what
    ``to_dict(orient="records")`` does), for every kind of column a payload holds, NA as null."""
    import datetime as dt
    import json

    from pipelines.parsing.parse_context import _json_default, payload_json

    frame = pd.DataFrame({
        "text": pd.Series(["a", None, "Désa", ""], dtype="str"),
        "flag": [True, False, True, False],
        "count": pd.Series([1, None, 3, 0], dtype="Int64"),
        "decimal": [1.5, float("nan"), 2.0, -0.0],
        "day": pd.Series([dt.date(2024, 1, 2), None, dt.date(2024, 3, 4), None], dtype="date32[pyarrow]"),
        "cell": [1, "x", None, dt.datetime(2024, 5, 6, 7, 8)],
    })
    boxed = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    assert payload_json(frame) == [json.dumps(r, ensure_ascii=False, default=_json_default) for r in boxed]
    assert json.loads(payload_json(frame)[1]) == {"text": None, "flag": False, "count": None, "decimal": None,
                                                  "day": None, "cell": "x"}
    assert payload_json(frame.iloc[:0]) == []
