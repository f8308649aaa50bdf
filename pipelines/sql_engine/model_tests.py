"""Run a model's YAML tests against the warehouse (pure DuckDB; the Dagster checks in
pipelines/assets/sql.py report what this returns).

* A test whose query and the versions of the tables it reads are those of its last run reuses
  that outcome (``raw.check_outcomes``; pipelines/sql_engine/build_state.py).
* The other tests that count rows matching a condition (``not_null``, ``accepted_values``,
  ``expression_is_true``, ``numeric_columns_finite``) are counted together, in one scan of the
  model instead of one each; ``unique`` and ``relationships`` run their own query.
* Each test keeps its own query (shown in the UI, to run by hand); it counts what the scan did.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pipelines.sql_engine import build_state
from pipelines.sql_engine.models import (
    ModelTest,
    SqlModel,
    check_reads,
    check_sql,
    float_columns,
    fused_check_sql,
    offending_row_predicate,
)


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
