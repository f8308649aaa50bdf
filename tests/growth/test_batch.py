"""The analysts' batch calculator (pipelines/growth/batch.py): a CSV in, the same CSV with WHO z-scores
(rounded as anthro rounds them, and unrounded) and flags out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.growth import compute_zscores, zscores_csv


def test_batch_csv_round_trip(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text(
        "row_ref,sex,age_days,weight_kg,lenhei_cm,measure\n"
        "a,1,1001,18.0,120.0,H\n"
        "b,2,304,10,,\n"
        "c,,1,,,\n"
        "d,2,NA,9,70.5,l\n"
        "e,1,244,7.1,60.0,h\n"
        "f,1,374,,71.3,l\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.csv"
    assert zscores_csv(src, out, chunk_rows=2) == 6
    got = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(got.columns) == [
        "row_ref",
        "sex",
        "age_days",
        "weight_kg",
        "lenhei_cm",
        "measure",
        "haz",
        "waz",
        "whz",
        "flag_haz",
        "flag_waz",
        "flag_whz",
        "haz_unrounded",
        "waz_unrounded",
        "whz_unrounded",
    ]
    assert got.row_ref.tolist() == list("abcdef") and got.measure.tolist() == ["H", "", "", "l", "h", "l"]
    assert got.weight_kg.tolist() == ["18.0", "10", "", "9", "7.1", ""]  # input cells repeated as written
    assert got.iloc[2][["haz", "waz", "whz"]].tolist() == ["", "", ""]
    expected = compute_zscores(
        [1, 2, np.nan, 2, 1, 1],
        [1001, 304, 1, np.nan, 244, 374],
        [18, 10, np.nan, 9, 7.1, np.nan],
        [120, np.nan, np.nan, 70.5, 60, 71.3],
        ["h", None, None, "l", "h", "l"],
    )
    for col in ("haz", "waz", "whz", "haz_unrounded", "waz_unrounded", "whz_unrounded"):
        values = pd.to_numeric(got[col]).to_numpy()
        np.testing.assert_array_equal(values, expected[col].to_numpy())  # exact, both kinds
    for col in ("flag_haz", "flag_waz", "flag_whz"):
        assert got[col].tolist() == [str(int(v)) for v in expected[col]]
    assert got.flag_haz[0] == "1"
    assert got.haz[0] == "7.31"  # WHO anthro README: zlen 7.31
    # HAZ -2.0032: written as WHO classifies it, -2.0 (not stunted), with the exact value beside it
    assert got.haz[5] == "-2.0" and -2.005 < float(got.haz_unrounded[5]) < -2


def test_batch_header_only_file(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("sex,age_days,weight_kg,lenhei_cm,measure\n", encoding="utf-8")
    assert zscores_csv(src, tmp_path / "out.csv") == 0
    header = (tmp_path / "out.csv").read_text().strip()
    assert header.endswith("measure,haz,waz,whz,flag_haz,flag_waz,flag_whz,"
                           "haz_unrounded,waz_unrounded,whz_unrounded")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("sex,age_days,weight_kg,lenhei_cm\n1,10,3,50\n", "missing required column.*measure"),
        ("sex,age_days,weight_kg,lenhei_cm,measure\n1,10,3,50,l\n1,ten,3,50,l\n", r"row 2 .*'age_days'"),
        ("sex,age_days,weight_kg,lenhei_cm,measure\n1,10,3,50,l\n1,10,3,5O,l\n", r"row 2 .*'lenhei_cm'"),
        ("sex,age_days,weight_kg,lenhei_cm,measure\n3,10,3,50,l\n", r"row 1 .*'sex'"),
        ("sex,age_days,weight_kg,lenhei_cm,measure\n1,10,3,50,x\n", r"row 1 .*'measure'"),
        ("sex,age_days,weight_kg,lenhei_cm,measure,haz\n1,10,3,50,l,0\n", "already has output column"),
        ("sex,age_days,weight_kg,lenhei_cm,measure,whz_unrounded\n1,10,3,50,l,0\n", "already has output"),
        ("", "empty file"),
    ],
)
def test_batch_bad_input_raises_and_leaves_no_output(tmp_path, body, message):
    src = tmp_path / "in.csv"
    src.write_text(body, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        zscores_csv(src, tmp_path / "out.csv", chunk_rows=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]
