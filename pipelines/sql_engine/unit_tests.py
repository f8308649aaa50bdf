"""dbt-style unit tests of the SQL models: given rows in, expected rows out.

A model's YAML (``dbt_like_sql/<layer>/<name>.yml``) may hold, beside its ``models:`` entry::

    unit_tests:
      - name: only_the_highest_version_is_latest
        model: stg_submissions
        description: optional
        given:
          - input: raw.submissions            # a table the model reads
            rows:
              - {submission_id: a, version: 1}
            columns: {received_at: timestamp}  # optional: types for empty or ambiguous inputs
        expect:
          rows:
            - {submission_id: a, is_latest_version: true}

Each test runs in its own in-memory DuckDB: every ``given`` table is created from its rows (DuckDB
infers the types from the values; ``columns`` casts the named ones and adds those no row has), any
other table the model reads is created empty when ``table_types`` declares it
(:func:`declared_table_types`: the tables built in Python) and must be given otherwise. Then the
model's SELECT runs and its output is compared with the expected rows on the expected columns
only: order-insensitive, numbers within a small tolerance, dates and timestamps as ISO strings
(``2024-08-01``, ``2024-08-01T10:00:00``). A column an expected row leaves out is expected to be
null when another expected row names it.

Pure: no Dagster import.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import duckdb

from pipelines.sql_engine.models import SqlModel, SqlModelError, _body
from pipelines.tables import TABLES

_TEST_KEYS = {"name", "model", "description", "given", "expect"}
_GIVEN_KEYS = {"input", "rows", "columns", "format"}
_REL_TOL, _ABS_TOL = 1e-9, 1e-6


@dataclass(frozen=True)
class Given:
    table: str
    rows: list[dict]
    columns: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UnitTest:
    model: SqlModel
    name: str
    given: list[Given]
    expect: list[dict]
    description: str = ""

    @property
    def id(self) -> str:
        return f"{self.model.name}::{self.name}"


def _rows(where: str, rows) -> list[dict]:
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise SqlModelError(f"{where}: rows must be a list of mappings")
    return rows


def _parse_given(model: SqlModel, where: str, item) -> Given:
    if not isinstance(item, dict) or "input" not in item or set(item) - _GIVEN_KEYS:
        raise SqlModelError(f"{where}: each given needs input and rows (keys {sorted(_GIVEN_KEYS)}): {item!r}")
    if item.get("format", "dict") != "dict":
        raise SqlModelError(f"{where}: only format: dict is supported")
    table = item["input"]
    if table not in model.upstream_tables:
        raise SqlModelError(f"{where}: gives {table}, which {model.table} does not read")
    columns = item.get("columns") or {}
    if not isinstance(columns, dict):
        raise SqlModelError(f"{where}: columns must map a column to its type")
    return Given(table, _rows(f"{where} {table}", item.get("rows") or []), {k: str(v) for k, v in columns.items()})


def parse_unit_test(model: SqlModel, raw: dict) -> UnitTest:
    """One ``unit_tests:`` entry of ``model`` as a :class:`UnitTest`; a malformed one is a
    :class:`SqlModelError` naming the model file and the test."""
    where = f"{model.path}: unit test {raw.get('name')!r}"
    if set(raw) - _TEST_KEYS:
        raise SqlModelError(f"{where}: unexpected keys {sorted(set(raw) - _TEST_KEYS)}")
    given = [_parse_given(model, where, item) for item in raw.get("given") or []]
    tables = [g.table for g in given]
    if len(set(tables)) != len(tables):
        raise SqlModelError(f"{where}: an input is given twice")
    expect = raw.get("expect")
    if not isinstance(expect, dict) or "rows" not in expect or expect.get("format", "dict") != "dict":
        raise SqlModelError(f"{where}: expect needs rows (format: dict)")
    return UnitTest(model, raw["name"], given, _rows(f"{where} expect", expect["rows"] or []),
                    str(raw.get("description") or "").strip())


def discover_unit_tests(models: list[SqlModel]) -> list[UnitTest]:
    """Every unit test of ``models`` (see :func:`pipelines.sql_engine.models.discover_models`)."""
    return [parse_unit_test(model, raw) for model in models for raw in model.unit_tests]


# -- building the inputs ---------------------------------------------------------------------------


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value!r}::DOUBLE"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    raise SqlModelError(f"cannot use {value!r} ({type(value).__name__}) as a given value")


def _create_given(con, given: Given) -> None:
    names = list(dict.fromkeys([k for row in given.rows for k in row] + list(given.columns)))
    if not given.rows:
        if not given.columns:
            raise SqlModelError(f"{given.table}: no rows and no columns, so no table to create")
        cols = ", ".join(f"{_ident(c)} {t}" for c, t in given.columns.items())
        con.execute(f"create table {given.table} ({cols})")
        return
    values = ",\n".join("(" + ", ".join(_literal(row.get(c)) for c in names) + ")" for row in given.rows)
    select = ", ".join(
        f"{_ident(c)}::{given.columns[c]} as {_ident(c)}" if c in given.columns else _ident(c) for c in names
    )
    con.execute(
        f"create table {given.table} as select {select} from (values\n{values}\n) as v({', '.join(map(_ident, names))})"
    )


def _create_inputs(con, test: UnitTest, table_types: Mapping[str, Mapping[str, str]]) -> list[str]:
    """Create every table the model reads; return what could not be created."""
    model = test.model
    reads = model.upstream_tables - {model.table}
    for schema in sorted({t.split(".")[0] for t in reads | {model.table}}):
        con.execute(f"create schema if not exists {schema}")
    given = {g.table for g in test.given}
    problems = []
    for g in test.given:
        _create_given(con, g)
    for table in sorted(reads - given):
        if table in table_types:
            cols = ", ".join(f"{_ident(c)} {t}" for c, t in table_types[table].items())
            con.execute(f"create table {table} ({cols})")
        else:
            problems.append(
                f"{table}: {model.table} reads it and its column types are not declared; give it "
                "(rows: [] with columns: {name: TYPE} for an empty table)"
            )
    return problems


# -- comparing the output --------------------------------------------------------------------------


def _norm(value):
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _same(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a is b  # True, False and None are singletons; 1 is not True
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=_REL_TOL, abs_tol=_ABS_TOL)
    return a == b


def _row_text(columns: list[str], row: tuple) -> str:
    return "{" + ", ".join(f"{c}: {v!r}" for c, v in zip(columns, row, strict=True)) + "}"


def compare_rows(columns: list[str], expected: list[tuple], actual: list[tuple]) -> str | None:
    """``None`` when ``actual`` holds exactly the ``expected`` rows in any order, else a diff."""
    unmatched = list(actual)
    missing = []
    for row in expected:
        hit = next((i for i, got in enumerate(unmatched) if all(map(_same, row, got))), None)
        if hit is None:
            missing.append(row)
        else:
            unmatched.pop(hit)
    if not missing and not unmatched:
        return None
    lines = [f"expected {len(expected)} rows, got {len(actual)} (compared on {', '.join(columns) or 'no columns'})"]
    if missing:
        lines += ["  expected but not produced:", *(f"    {_row_text(columns, r)}" for r in missing)]
    if unmatched:
        lines += ["  produced but not expected:", *(f"    {_row_text(columns, r)}" for r in unmatched)]
    return "\n".join(lines)


# -- running ---------------------------------------------------------------------------------------


def run_unit_test(test: UnitTest, table_types: Mapping[str, Mapping[str, str]] | None = None) -> list[str]:
    """Run one unit test; return its failures (empty: it passed), each readable on its own.

    ``table_types`` maps ``schema.table`` to ``{column: TYPE}`` for tables the test may leave out:
    they are created empty."""
    con = duckdb.connect()
    try:
        try:
            problems = _create_inputs(con, test, table_types or {})
        except (duckdb.Error, SqlModelError) as exc:
            return [f"cannot create the given tables: {exc}"]
        if problems:
            return problems
        try:
            rel = con.sql(_body(test.model))
            produced, rows = list(rel.columns), rel.fetchall()
        except duckdb.Error as exc:
            return [f"the model's SELECT failed: {exc}"]
    finally:
        con.close()
    columns = list(dict.fromkeys(k for row in test.expect for k in row))
    absent = [c for c in columns if c not in produced]
    if absent:
        return [f"expected columns {absent} are not in the output (columns: {', '.join(produced)})"]
    index = [produced.index(c) for c in columns]
    actual = [tuple(_norm(row[i]) for i in index) for row in rows]
    expected = [tuple(_norm(row.get(c)) for c in columns) for row in test.expect]
    diff = compare_rows(columns, expected, actual)
    return [diff] if diff else []


def declared_table_types() -> dict[str, dict[str, str]]:
    """``{table: {column: TYPE}}`` of the tables built in Python (:mod:`pipelines.tables`): inputs
    a unit test may leave out (they are created empty)."""
    return {name: dict(spec.columns) for name, spec in TABLES.items()}


def run_unit_tests(models: list[SqlModel], table_types=None) -> dict[str, list[str]]:
    """Failures of every unit test of ``models`` that failed, by test id (``<model>::<name>``)."""
    results = {t.id: run_unit_test(t, table_types) for t in discover_unit_tests(models)}
    return {test_id: failures for test_id, failures in results.items() if failures}
