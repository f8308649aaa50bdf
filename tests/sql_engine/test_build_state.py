"""Skipping unchanged work (pipelines/sql_engine/build_state.py): a model or test is rebuilt or re-run exactly
when its SQL or a table it reads changed, and an unchanged month rebuilt changes nothing downstream."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines.sql_engine import build_state
from pipelines.sql_engine.build import build_model
from pipelines.sql_engine.model_tests import check_signature, check_sql
from pipelines.sql_engine.models import ModelTest, SqlModel


@pytest.fixture
def con():
    c = duckdb.connect()
    for schema in ("raw", "staging", "marts"):
        c.execute(f"create schema {schema}")
    c.execute("create table raw.visits as select * from (values ('2024-07', 'a', 1), ('2024-08', 'b', 2)) "
              "t(period, child, n)")
    yield c
    c.close()


def _model(name: str, sql: str, partition_by: str | None = None, layer: str = "staging") -> SqlModel:
    return SqlModel(layer, name, Path(f"{name}.sql"), sql, partition_by=partition_by)


STG = _model("stg_visits", "select period, child, n * 10 as n10 from raw.visits", partition_by="period")
MART = _model("mart_totals", "select period, sum(n10) as total from staging.stg_visits group by period",
              layer="marts")


def test_a_model_is_rebuilt_only_when_its_inputs_or_sql_change(con):
    counts = _model("m", "select count(*) as n from raw.visits", layer="marts")
    assert build_model(con, counts)[1]
    assert build_model(con, counts) == (1, False)  # nothing changed: kept
    con.execute("insert into raw.visits values ('2024-08', 'c', 3)")  # append-only input grew
    assert build_model(con, counts)[1]
    assert con.execute("select n from marts.m").fetchall() == [(3,)]
    changed_sql = _model("m", "select count(*) + 0 as n from raw.visits", layer="marts")
    assert build_model(con, changed_sql)[1]
    con.execute("drop table marts.m")  # a dropped table is rebuilt whatever was recorded
    assert build_model(con, changed_sql)[1]


def test_rebuilding_an_unchanged_month_changes_nothing_downstream(con):
    assert build_model(con, STG, ["2024-07", "2024-08"])[1]
    assert build_model(con, MART)[1]
    version = build_state.table_version(con, STG.table)
    # A quiet night: another (empty) month is rebuilt; its rows are the same (none), so the
    # partitioned table keeps its version and the mart is not rebuilt.
    assert build_model(con, STG, ["2026-11"]) == (0, True)
    assert build_state.table_version(con, STG.table) == version
    assert build_model(con, MART)[1] is False
    # A revised August: the August rows change, so does the version, so the mart is rebuilt.
    con.execute("update raw.visits set n = 5 where child = 'b'")
    build_state.forget(con, ["raw.visits"])  # (an update in place is not how raw changes in the pipeline)
    assert build_model(con, STG, ["2024-08"])[1]
    assert build_state.table_version(con, STG.table) != version
    assert build_model(con, MART)[1]
    assert con.execute("select total from marts.mart_totals where period = '2024-08'").fetchall() == [(50,)]


def test_a_check_outcome_is_reused_only_while_every_table_it_reads_is_unchanged(con):
    build_model(con, STG, None)
    test = ModelTest(kind="expression_is_true", column=None, args={
        "expression": "n10 <= (select max(n) * 10 from raw.visits)"}, severity="error")
    query = check_sql(STG, test)
    first = check_signature(con, STG, test, query)
    assert check_signature(con, STG, test, query) == first
    con.execute("insert into raw.visits values ('2024-09', 'c', 0)")  # read by the expression only
    assert check_signature(con, STG, test, query) != first
    build_state.record_outcomes(con, [("t", first, 0)])
    assert build_state.reusable_outcomes(con, ["t", "u"]) == {"t": (first, 0)}


def test_rows_and_version_change_together_or_not_at_all(con, monkeypatch):
    build_model(con, STG, ["2024-07", "2024-08"])
    version = build_state.table_version(con, STG.table)
    rows = con.execute("select * from staging.stg_visits order by all").fetchall()
    con.execute("insert into raw.visits values ('2024-08', 'c', 3)")

    def crash(*args, **kwargs):
        raise RuntimeError("killed between the rows and their version")

    monkeypatch.setattr(build_state, "partition_version", crash)
    with pytest.raises(RuntimeError):
        build_model(con, STG, ["2024-08"])
    assert con.execute("select * from staging.stg_visits order by all").fetchall() == rows
    assert build_state.table_version(con, STG.table) == version
    monkeypatch.undo()
    assert build_model(con, STG, ["2024-08"])[1]  # the next run rebuilds, and the version moves
    assert build_state.table_version(con, STG.table) != version


def test_tests_counted_in_one_scan_give_each_query_s_own_count_and_are_reused_until_an_input_changes(con):
    from pipelines.sql_engine.model_tests import run_model_tests

    build_model(con, STG, None)
    con.execute("insert into staging.stg_visits values ('2024-08', null, 70), ('2024-08', 'x', null)")
    tests = [
        ModelTest("not_null", "child", {}),
        ModelTest("not_null", "n10", {}),
        ModelTest("accepted_values", "child", {"values": ["a", "b"]}),
        ModelTest("expression_is_true", None, {"expression": "n10 < 20"}, "warn"),
        ModelTest("unique", None, {"columns": ["period"]}),
    ]
    first = run_model_tests(con, STG, tests)
    assert [(o.test, o.failing, o.reused) for o in first] == [
        (t, con.execute(check_sql(STG, t)).fetchone()[0], False) for t in tests]
    assert [o.failing for o in first] == [1, 1, 1, 3, 2]
    assert [o.reused for o in run_model_tests(con, STG, tests)] == [True] * 5
    build_state.forget(con, [STG.table])  # the table's version changes: every test runs again
    assert [o.reused for o in run_model_tests(con, STG, tests)] == [False] * 5
    july = run_model_tests(con, STG, tests[:2], ["2024-07"])  # a partitioned model's months only
    assert [o.failing for o in july] == [0, 0]
