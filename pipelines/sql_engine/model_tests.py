"""A model's YAML tests: their SQL, and running them against the warehouse (pure DuckDB; the
Dagster checks in pipelines/assets/sql.py report what :func:`run_model_tests` returns).

* Each test is a query returning the number of offending rows (:func:`check_sql`; 0 = pass).

* A test whose query and the versions of the tables it reads are those of its last run reuses
  that outcome (``raw.check_outcomes``; pipelines/sql_engine/build_state.py).
* The other tests that count rows matching a condition (``not_null``, ``accepted_values``,
  ``expression_is_true``, ``numeric_columns_finite``) are counted together, in one scan of the
  model instead of one each; ``unique`` and ``relationships`` run their own query.
* Each test keeps its own query (shown in the UI, to run by hand); it counts what the scan did.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from pipelines.sql_engine import build_state
from pipelines.sql_engine.models import ModelTest, SqlModel, SqlModelError, _q, partition_filter

_TABLE_NAME = re.compile(r"\b(?:raw|quarantine|reference|staging|marts)\.[A-Za-z_][A-Za-z0-9_]*\b")


def float_columns(con, table: str) -> list[str]:
    """The FLOAT/DOUBLE columns of ``table``: the only types that can hold inf or NaN."""
    schema, name = table.split(".", 1)
    return [r[0] for r in con.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
        "and data_type in ('FLOAT', 'DOUBLE', 'REAL') order by ordinal_position", [schema, name]
    ).fetchall()]


def check_relation(model: SqlModel, months=None) -> str:
    """What a test of ``model`` reads: its table, or for a partitioned model given ``months``, those
    months' rows."""
    if model.partition_by and months is not None:
        return f"(select * from {model.table} where {partition_filter(model, months)})"
    return model.table


def offending_row_predicate(test: ModelTest) -> str | None:
    """For a test that counts the rows matching a condition (``not_null``, ``accepted_values``,
    ``expression_is_true``, ``numeric_columns_finite``), that condition; None for the others.
    Several such tests of one model are counted in one scan (:func:`fused_check_sql`)."""
    c, a = test.column, test.args
    if test.kind == "not_null":
        return f"{c} is null"
    if test.kind == "accepted_values":
        values = ", ".join(_q(v) for v in a["values"])
        return f"{c} is not null and {c}::varchar not in ({values})"
    if test.kind == "expression_is_true":
        return f"not coalesce(({a['expression']}), false)"
    if test.kind == "numeric_columns_finite":
        columns = a.get("columns") or []
        return " or ".join(f"not isfinite({c})" for c in columns) if columns else "false"
    return None


def check_sql(model: SqlModel, test: ModelTest, months=None) -> str:
    """A query returning the number of offending rows (0 = pass); for a partitioned model given
    ``months``, over those months' rows only."""
    t, c, a = check_relation(model, months), test.column, test.args
    if test.kind == "numeric_columns_finite" and not a.get("columns"):
        return "select 0"
    predicate = offending_row_predicate(test)
    if predicate is not None:
        return f"select count(*) from {t} where {predicate}"
    if test.kind == "unique":
        cols = ", ".join(a["columns"]) if c is None else c
        return (
            f"select coalesce(sum(n - 1), 0) from (select count(*) as n from {t} "
            f"group by {cols} having count(*) > 1)"
        )
    if test.kind == "relationships":
        # The months' filter goes in this query's own WHERE, never through check_relation's
        # ``select *`` subquery: DuckDB turns NOT EXISTS into a join whose delimiter side is
        # materialised with every column the subquery returns. On a national fct_child_measurement
        # (24.9M rows, 27 columns) that took 10-11 s per test against 0.4-0.5 s scanning the key
        # alone (2026-12-04), and 30 of the SQL stage's ~150 s.
        scope = f"({partition_filter(model, months)}) and " if model.partition_by and months is not None else ""
        return (
            f"select count(*) from {model.table} as child where {scope}child.{c} is not null and not exists "
            f"(select 1 from {a['to']} as parent where parent.{a['field']} = child.{c})"
        )
    raise SqlModelError(f"unknown test {test.kind}")


def fused_check_sql(model: SqlModel, tests: list[ModelTest], months=None) -> str:
    """One query, one scan of the model, returning one column per test of ``tests`` (all with an
    :func:`offending_row_predicate`): the same counts as their :func:`check_sql` queries."""
    counts = ", ".join(f"count(*) filter (where {offending_row_predicate(t)})" for t in tests)
    return f"select {counts} from {check_relation(model, months)}"


def check_reads(model: SqlModel, query: str) -> set[str]:
    """The tables a test's query reads (its model's included): every ``<layer>.<name>`` it
    mentions. A cheap over-approximation (a pattern, not a parse: parsing 200 queries cost a quiet
    night seconds), which only ever makes a test re-run more often, never less."""
    return {m.group(0) for m in _TABLE_NAME.finditer(query)} | {model.table}


def check_signature(con, model: SqlModel, test: ModelTest, query: str) -> str:
    """Digest of a test's query and the versions of every table it reads (:func:`check_reads`)."""
    return build_state.signature(con, [query, test.severity], check_reads(model, query))




@dataclass(frozen=True)
class CheckOutcome:
    test: ModelTest
    query: str
    failing: int
    reused: bool


def run_model_tests(con, model: SqlModel, tests: list[ModelTest], months=None) -> list[CheckOutcome]:
    """Outcomes of ``tests`` of ``model`` (over ``months`` of a partitioned one), in their order;
    the new ones are recorded for the next run in one transaction."""
    tests = [replace(t, args={"columns": float_columns(con, model.table)}) if t.kind == "numeric_columns_finite"
             else t for t in tests]
    queries = [check_sql(model, t, months) for t in tests]
    reads = [check_reads(model, q) for q in queries]
    versions = build_state.table_versions(con, set().union(*reads))
    signatures = [build_state.signature(con, [q, t.severity], r, versions)
                  for t, q, r in zip(tests, queries, reads, strict=True)]
    ids = [f"{model.table}:{t.name}" for t in tests]
    last = build_state.reusable_outcomes(con, ids)
    failing = {i: last[ids[i]][1] for i in range(len(tests)) if last.get(ids[i], ("",))[0] == signatures[i]}
    reused = set(failing)
    fused = [i for i, t in enumerate(tests) if i not in reused and offending_row_predicate(t) is not None]
    if fused:
        counts = con.execute(fused_check_sql(model, [tests[i] for i in fused], months)).fetchall()[0]
        failing.update(zip(fused, (int(n) for n in counts), strict=True))
    for i, query in enumerate(queries):
        if i not in failing:
            failing[i] = int(con.execute(query).fetchall()[0][0])
    new = [(ids[i], signatures[i], failing[i]) for i in range(len(tests)) if i not in reused]
    if new:
        con.execute("begin transaction")
        try:
            build_state.record_outcomes(con, new)
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
    return [CheckOutcome(t, q, failing[i], i in reused) for i, (t, q) in enumerate(zip(tests, queries, strict=True))]
