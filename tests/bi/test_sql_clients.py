"""The published warehouse as Superset and Metabase-style SQL clients see it.

Superset (and any SQLAlchemy-based tool) connects through ``duckdb-engine``: these tests open the
file a real run published, read-only, through SQLAlchemy 2.0.44 + duckdb-engine 0.17 (the versions
pinned in requirements.lock; duckdb-engine 0.17 fails column reflection with SQLAlchemy 2.0.45 and
newer). They list schemas and tables, read the table and column comments, run each mart's grain
query, and hold every column to a type a BI tool maps (docs/bi.md). The type table they saw is
written to ``warehouse/reports/bi_sqlalchemy_types.md``.

The last test runs the next month through ``konvergensi run`` in a child process while a client
reads in a loop: every read sees one whole published version, the old or the new, never a mix.
"""

from __future__ import annotations

import collections
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.sql_engine.models import discover_models
from tests.bi.conftest import FIRST_MONTH, SECOND_MONTH, start_month
from tests.paths import ROOT_DIR

sa = pytest.importorskip("sqlalchemy")
pytest.importorskip("duckdb_engine")

pytestmark = pytest.mark.slow

TYPE_TABLE = ROOT_DIR / "warehouse" / "reports" / "bi_sqlalchemy_types.md"
PUBLISHED_SCHEMAS = ("marts", "reference")
# DuckDB types every BI tool we support maps to a plain number, text, date or time column
# (docs/bi.md). Not here: HUGEINT (Metabase and JavaScript clients see text or lose digits; BIGINT
# serves), unsigned integers, DECIMAL wider than 18 digits, INTERVAL, BLOB, nested and ENUM types.
MAPPED_TYPES = {"VARCHAR", "BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "DOUBLE", "DATE", "TIMESTAMP"}
MAX_DECIMAL_PRECISION = 18
GENERIC = ("Integer", "Numeric", "Float", "String", "Boolean", "Date", "DateTime")


def _engine(path: Path):
    """A read-only engine on the file, as a BI tool's connection is configured (docs/bi.md)."""
    return sa.create_engine(f"duckdb:///{path}", connect_args={"read_only": True}, poolclass=sa.pool.NullPool)


def _models() -> dict[str, object]:
    return {m.name: m for m in discover_models(ROOT_DIR / "dbt_like_sql") if m.layer == "marts"}


def _grain(model) -> list[str]:
    """The mart's grain: its table-level unique test, else its unique column."""
    for test in model.tests:
        if test.kind == "unique" and test.column is None:
            return list(test.args["columns"])
    return [t.column for t in model.tests if t.kind == "unique"][:1]


def _catalog(path: Path) -> list[tuple[str, str, str, str]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(
            "select schema_name, table_name, column_name, data_type from duckdb_columns() "
            "where schema_name in ('marts', 'reference') order by 1, 2, column_index").fetchall()
    finally:
        con.close()


def _mapped(duck_type: str) -> bool:
    if duck_type.startswith("DECIMAL("):
        return int(duck_type[len("DECIMAL("):].split(",")[0]) <= MAX_DECIMAL_PRECISION
    return duck_type in MAPPED_TYPES


def test_sqlalchemy_lists_the_published_schemas_tables_and_comments(published):
    engine = _engine(published)
    inspector = sa.inspect(engine)
    schemas = inspector.get_schema_names()
    # duckdb-engine names schemas with their catalog, as Superset's schema picker shows them
    assert {"banten.marts", "banten.reference"} <= set(schemas)
    assert not [s for s in schemas if s.split(".")[-1] in ("raw", "quarantine", "staging")]
    marts = set(inspector.get_table_names(schema="marts"))
    assert marts == set(_models())
    for schema in PUBLISHED_SCHEMAS:
        for table in inspector.get_table_names(schema=schema):
            assert (inspector.get_table_comment(table, schema=schema)["text"] or "").strip(), f"{schema}.{table}"
            for column in inspector.get_columns(table, schema=schema):
                assert (column.get("comment") or "").strip(), f"{schema}.{table}.{column['name']} has no comment"
    engine.dispose()


def test_each_marts_grain_query_finds_one_row_per_grain(published):
    engine = _engine(published)
    checked = {}
    with engine.connect() as con:
        for name, model in sorted(_models().items()):
            grain = _grain(model)
            assert grain, f"{name} declares no grain (a unique test) in its YAML"
            cols = ", ".join(f'"{c}"' for c in grain)
            rows = con.execute(sa.text(f"select count(*) from marts.{name}")).scalar_one()
            dupes = con.execute(sa.text(
                f"select {cols}, count(*) as n from marts.{name} group by all having count(*) > 1 limit 5")).fetchall()
            assert dupes == [], f"{name}: grain {grain} repeats: {dupes}"
            checked[name] = rows
    engine.dispose()
    # the run filled the marts a coordinator reads first
    for name in ("mart_target_progress", "fct_stunting_prevalence", "fct_extreme_poverty",
                 "fct_convergence_action_status", "mart_submission_completeness", "dim_region"):
        assert checked[name] > 0, name


def test_every_published_column_has_a_type_bi_tools_map(published):
    """No HUGEINT, unsigned, nested, interval or over-wide DECIMAL column; SQLAlchemy reflects each
    as a generic type (no NullType). Writes the type table (DuckDB -> SQLAlchemy, with counts)."""
    engine = _engine(published)
    inspector = sa.inspect(engine)
    duck = {(s, t, c): d for s, t, c, d in _catalog(published)}
    seen: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
    unmapped = []
    for schema in PUBLISHED_SCHEMAS:
        for table in inspector.get_table_names(schema=schema):
            for column in inspector.get_columns(table, schema=schema):
                duck_type = duck[(schema, table, column["name"])]
                sa_type = column["type"]
                generic = [g for g in GENERIC if isinstance(sa_type, getattr(sa.types, g))]
                seen[(duck_type, repr(sa_type))].append(f"{schema}.{table}.{column['name']}")
                if not _mapped(duck_type) or not generic or isinstance(sa_type, sa.types.NullType):
                    unmapped.append(f"{schema}.{table}.{column['name']}: {duck_type} -> {sa_type!r}")
    engine.dispose()
    TYPE_TABLE.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# Published column types as SQLAlchemy sees them", "",
             f"SQLAlchemy {sa.__version__}, duckdb-engine {_version('duckdb_engine')}, DuckDB {duckdb.__version__}; "
             f"written by tests/bi/test_sql_clients.py.", "",
             "| DuckDB type | SQLAlchemy type | columns | e.g. |", "|---|---|---|---|"]
    for (duck_type, sa_repr), cols in sorted(seen.items()):
        lines.append(f"| {duck_type} | `{sa_repr}` | {len(cols)} | {cols[0]} |")
    TYPE_TABLE.write_text("\n".join(lines) + "\n")
    assert unmapped == []
    assert {"VARCHAR", "BIGINT", "DOUBLE", "DATE"} <= {d for d, _ in seen}


def _version(module: str) -> str:
    from importlib.metadata import version

    return version(module.replace("_", "-"))


def _snapshot(path: Path) -> tuple[frozenset, frozenset, str | None, int]:
    """One read through SQLAlchemy, as a dashboard refresh does: the months of routine prevalence,
    the months of the completeness mart, the latest routine month target progress stands on, and
    the number of marts."""
    engine = _engine(path)
    try:
        with engine.connect() as con:
            prevalence = frozenset(r[0] for r in con.execute(sa.text(
                "select distinct period from marts.fct_stunting_prevalence")))
            completeness = frozenset(r[0] for r in con.execute(sa.text(
                "select distinct period from marts.mart_submission_completeness where regexp_full_match(period, '[0-9]{4}-[0-9]{2}')")))
            routine = con.execute(sa.text(
                "select max(routine_period) from marts.mart_target_progress")).scalar_one()
            n_marts = con.execute(sa.text(
                "select count(*) from duckdb_tables() where schema_name = 'marts'")).scalar_one()
        return prevalence, completeness, routine, n_marts
    finally:
        engine.dispose()


def test_a_client_reading_in_a_loop_during_a_real_publish_sees_whole_versions(bi_site):
    published = bi_site / "wh" / "banten.duckdb"
    before = _snapshot(published)
    assert before[0] == frozenset({FIRST_MONTH})
    n_marts = before[3]
    proc = start_month(bi_site, SECOND_MONTH)
    snapshots, errors = [], []
    try:
        while proc.poll() is None:
            try:
                snapshots.append(_snapshot(published))
            except Exception as exc:  # noqa: BLE001 - any error a BI refresh would show counts
                errors.append(f"{type(exc).__name__}: {exc}")
            time.sleep(0.05)
        out = proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out[-4000:]
    snapshots.append(_snapshot(published))
    print(f"\n{len(snapshots)} reads during the run, {len(errors)} errors")
    assert errors == []
    states = []
    for prevalence, completeness, routine, marts in snapshots:
        # one whole version: every mart from the same publish
        assert marts == n_marts
        assert prevalence == completeness, (prevalence, completeness)
        assert routine == max(prevalence)
        if not states or states[-1] != prevalence:
            states.append(prevalence)
    # the loop saw the old version, then the new one, and never went back
    assert states == [frozenset({FIRST_MONTH}), frozenset({FIRST_MONTH, SECOND_MONTH})]
