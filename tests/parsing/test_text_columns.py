"""Text-only XLSX/JSON columns parse on the Arrow string path (pipelines.parsing.cells.
text_columns_as_arrow) and give what the object path gave, on the hand-made exports in the real
layouts; birth dates become ISO text by an Arrow cast, as ``astype("str")`` gave them."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from pipelines.parsing import cells, read_json, read_xlsx
from pipelines.parsing.dates import DATE_DTYPE, iso_text
from pipelines.parsing.file_identity import FileHints
from pipelines.parsing.parse import parse_submission
from pipelines.parsing.pseudonym import Pseudonymiser
from tests.paths import FIXTURES

PSEUDO = Pseudonymiser(b"text-columns-test-key-0123456789abcdef")
EXPORTS = ["eppgbm_regency_numeric_nik.xlsx", "eppgbm_serial_dates.xlsx", "eppgbm_rows.json", "eppgbm_list.json"]


def test_only_columns_of_text_become_arrow_strings():
    text = np.array(["SUKAMAJU", None, "PULO NANGKA"], dtype=object)
    mixed = np.array(["3601012345678901", 3601012345678901.0, None], dtype=object)
    dates = np.array([dt.datetime(2024, 8, 16), None, "16/08/2024"], dtype=object)
    out = cells.text_columns_as_arrow([text, mixed, dates])
    assert isinstance(out[0], pa.Array) and out[0].to_pylist() == ["SUKAMAJU", None, "PULO NANGKA"]
    assert out[1] is mixed and out[2] is dates


@pytest.mark.parametrize("name", EXPORTS)
def test_an_export_parses_the_same_with_its_text_columns_as_arrow(name, regions, monkeypatch):
    content = (FIXTURES / "sources" / "child_measurements" / name).read_bytes()
    hints = FileHints(submitter_code="36.01", period="2024-08")

    def parse():
        return parse_submission("child_measurements", content, name, hints, pseudonymiser=PSEUDO, regions=regions)

    arrow = parse()
    for module in (read_xlsx, read_json):  # the object path: every native column as read
        monkeypatch.setattr(module, "text_columns_as_arrow", lambda columns: columns)
    native = parse()
    assert arrow.file_error == native.file_error
    pd.testing.assert_frame_equal(arrow.rows, native.rows)
    pd.testing.assert_frame_equal(arrow.rejects, native.rejects)


def test_iso_text_is_what_astype_str_gave():
    dates = pd.Series(pa.array([dt.date(2023, 3, 10), None, dt.date(2024, 12, 31)], type=pa.date32()),
                      dtype=DATE_DTYPE, index=[4, 5, 6])
    pd.testing.assert_series_equal(iso_text(dates), dates.astype("str"))
    pd.testing.assert_series_equal(iso_text(dates.iloc[1:]), dates.iloc[1:].astype("str"))
