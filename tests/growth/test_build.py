"""Building staging.stg_child_zscores (pipelines/growth/build.py): rounded scores with their unrounded
values, and a table of an older layout rebuilt whole so that no month keeps scores of older code."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.growth import load_into_duckdb
from pipelines.growth.build import TABLE, build_zscores

COLUMNS = "period, child_id, measured_on, age_days, sex, weight_kg, lenhei_cm, measure"
# July: HAZ -2.0032, -2.00 once rounded, so not stunted for WHO. August: HAZ 6.0045 and WAZ 5.0026,
# which round onto the flag thresholds and so are not flagged.
MEASUREMENTS = [
    ("2024-07", "c1", "2024-07-10", 374, 1, 9.0, 71.3, "l"),
    ("2024-08", "c2", "2024-08-10", 369, 1, None, 90.2, "l"),
    ("2024-08", "c3", "2024-08-10", 400, 1, 16.53, 75.0, "l"),
]


@pytest.fixture
def con():
    c = duckdb.connect()
    _fill(c)
    yield c
    c.close()


def _fill(c) -> None:
    c.execute("create schema staging")
    load_into_duckdb(c)
    values = ", ".join(map(repr, MEASUREMENTS)).replace("None", "null")
    c.execute(f"""create table staging.stg_child_measurements as select
        period, child_id, measured_on::date as measured_on, age_days::integer as age_days,
        sex::tinyint as sex, weight_kg::double as weight_kg, lenhei_cm::double as lenhei_cm, measure
        from (values {values}) t({COLUMNS})""")


def test_a_file_warehouse_stages_its_scores_beside_it_and_keeps_no_scratch_file(tmp_path):
    """Scores are staged in a scratch Parquet file in the database's folder, then inserted in one
    statement; the file goes when the build ends, and a build with no rows writes none."""
    with duckdb.connect(str(tmp_path / "w.duckdb")) as c:
        _fill(c)
        built = build_zscores(c, None)
        assert built.rows == 3 and [r[0] for r in _rows(c)] == ["c1", "c2", "c3"]
        c.execute("delete from staging.stg_child_measurements")
        assert build_zscores(c, ["2024-08"]).rows == 0
        assert [r[0] for r in _rows(c)] == ["c1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.duckdb"]


def _rows(con):
    return con.execute(
        "select child_id, haz, haz_unrounded, flag_haz, waz, waz_unrounded, flag_waz "
        f"from {TABLE} order by child_id"
    ).fetchall()


def test_scores_are_stored_rounded_with_the_unrounded_beside_them(con):
    built = build_zscores(con, None)
    assert built.rows == 3 and built.rebuilt
    assert built.flagged["n_flag_haz"] == built.flagged["n_flag_waz"] == 0
    c1, c2, c3 = _rows(con)
    assert c1[1] == -2.0 and -2.005 < c1[2] < -2 and c1[3] is False
    assert c2[1] == 6.0 and 6 < c2[2] < 6.005 and c2[3] is False
    assert c3[4] == 5.0 and 5 < c3[5] < 5.005 and c3[6] is False


def test_a_table_from_before_the_unrounded_columns_is_rebuilt_whole(con):
    con.execute(f"""create table {TABLE} (period varchar, child_id varchar, measured_on date,
        age_days integer, haz double, waz double, whz double, flag_haz boolean, flag_waz boolean,
        flag_whz boolean, flag_c9mo boolean)""")
    con.execute(f"""insert into {TABLE} values
        ('2024-07', 'c1', '2024-07-10', 374, -2.0032, null, null, false, false, false, false),
        ('2024-08', 'c2', '2024-08-10', 369, 6.0045, null, null, true, false, false, false)""")
    built = build_zscores(con, ["2024-08"])  # asked for August only
    assert built.whole and built.rebuilt and built.rows == 3
    c1, c2, _ = _rows(con)
    assert c1[1] == -2.0 and c1[2] < -2  # July too: no row keeps the old unrounded HAZ
    assert c2[1:4] == (6.0, pytest.approx(6.0045, abs=1e-4), False)
    assert not build_zscores(con, ["2024-08"]).rebuilt  # then current: months rebuild as usual


def test_a_batch_keeps_its_keys_as_read_beside_the_scores_of_its_values():
    # The keys stay Arrow; only the scores' inputs go through NumPy. Missing sex, age, measure and
    # weight give what compute_zscores gives for them on the pandas columns.
    import pandas as pd
    import pyarrow as pa

    from pipelines.growth.build import _scored
    from pipelines.growth.zscores import compute_zscores

    batch = pa.RecordBatch.from_pydict({
        "period": ["2024-08"] * 5, "child_id": ["a" * 64, "b" * 64, "c" * 64, "d" * 64, "e" * 64],
        "measured_on": pa.array([19950, 19951, 19952, 19953, 19954], pa.date32()),
        "age_days": pa.array([400, None, 1000, 30, 700], pa.int32()),
        "sex": pa.array([1, 2, None, 2, 1], pa.int64()),
        "weight_kg": [9.5, 12.0, 14.2, None, 10.1], "lenhei_cm": [75.0, 88.0, 95.5, 52.0, 80.2],
        "measure": ["l", "h", None, "l", "h"],
    })
    got = _scored(batch)
    keys = ["period", "child_id", "measured_on", "age_days"]
    assert got.select(keys).to_pydict() == batch.select(keys).to_pydict()
    df = batch.to_pandas()
    expected = compute_zscores(df["sex"], df["age_days"], df["weight_kg"], df["lenhei_cm"], df["measure"])
    assert got.column_names == [*keys, *expected.columns]
    pd.testing.assert_frame_equal(got.drop_columns(keys).to_pandas(), expected)
