"""Building one SQL model in DuckDB (:mod:`pipelines.sql_engine.models` reads the models): the
statements that rebuild it, one transaction, DuckDB's memory cap around it, and skipping a build
whose inputs and SQL are those it was last built with.

* The model is rebuilt with ``create or replace table`` inside one transaction, then its column and
  table descriptions become ``COMMENT ON``; a model with ``config: {compression: {column: zstd}}`` is
  created with those columns' compression first, then filled.
* A monthly-partitioned model (``config: {partition_by: period}``) built for some months deletes
  and re-inserts exactly those months' rows; it is built whole when its table does not exist yet or
  its columns changed.
"""

from __future__ import annotations

from contextlib import contextmanager

from pipelines.sql_engine import build_state
from pipelines.sql_engine.models import SqlModel, SqlModelError, _body, _q, partition_filter


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def build_statements(model: SqlModel, months=None, columns: list[tuple[str, str]] | None = None) -> list[str]:
    """Statements that rebuild one model (run inside one transaction): the whole table, or for a
    partitioned model given ``months``, only those months' rows.

    A whole model with a ``compression`` config is created from ``columns`` (its output's names and
    types, :func:`output_columns`) with those columns' compression, then filled; without
    ``columns`` it is created from its query as every other model is (DuckDB chooses every column's
    compression).
    """
    body = _body(model)
    if model.partition_by and months is not None:
        where = partition_filter(model, months)
        return [
            f"delete from {model.table} where {where}",
            f"insert into {model.table} by name\nselect * from (\n{body}\n) as _model where {where}",
        ]
    if model.compression and columns is not None:
        missing = sorted(set(model.compression) - {c for c, _ in columns})
        if missing:
            raise SqlModelError(f"{model.table}: config compression names columns the model does not return: {missing}")
        defs = ",\n".join(f"    {_ident(c)} {t}" + (f" using compression {model.compression[c]}" if c in model.compression
                                                   else "") for c, t in columns)
        stmts = [f"create or replace table {model.table} (\n{defs}\n)",
                 f"insert into {model.table}\nselect * from (\n{body}\n) as _model"]
    else:
        stmts = [f"create or replace table {model.table} as\n{body}"]
    if model.description:
        stmts.append(f"comment on table {model.table} is {_q(model.description)}")
    for column, text in model.columns.items():
        stmts.append(f"comment on column {model.table}.{column} is {_q(text)}")
    return stmts


def _columns(con, relation: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute(f"describe {relation}").fetchall()]


def needs_full_build(con, model: SqlModel) -> bool:
    """A partitioned model is built whole when its table is missing or its columns changed."""
    if not build_state.table_exists(con, model.table):
        return True
    return _columns(con, model.table) != output_columns(con, model)


def output_columns(con, model: SqlModel) -> list[tuple[str, str]]:
    """``(name, type)`` of what the model's query returns (bound, not run)."""
    return _columns(con, f"select * from (\n{_body(model)}\n) limit 0")


def run_model(con, model: SqlModel, months=None, before_commit=None, full: bool | None = None) -> int:
    """Rebuild one model (or the given months of a partitioned one) in a single transaction and
    return the number of rows it now holds for what was rebuilt. ``before_commit(con, whole)``
    runs inside that transaction (``whole``: the table was rebuilt entirely). ``full``: whether a
    partitioned model needs a whole build, when the caller already asked :func:`needs_full_build`."""
    if full is None and model.partition_by and months is not None:
        full = needs_full_build(con, model)
    whole = not model.partition_by or months is None or bool(full)
    if whole:
        months = None
    con.execute("begin transaction")
    try:
        columns = output_columns(con, model) if months is None and model.compression else None
        for stmt in build_statements(model, months, columns):
            con.execute(stmt)
        if before_commit is not None:
            before_commit(con, whole)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    where = f" where {partition_filter(model, months)}" if model.partition_by and months is not None else ""
    return con.execute(f"select count(*) from {model.table}{where}").fetchall()[0][0]


@contextmanager
def memory_limit(con, limit: str, restore: str):
    """DuckDB's memory cap at ``limit`` for the block, then ``restore`` (the cap is the database's,
    not the connection's: every cursor of it sees the change)."""
    con.execute(f"set memory_limit = {_q(limit)}")
    try:
        yield con
    finally:
        con.execute(f"set memory_limit = {_q(restore)}")


def build_model(con, model: SqlModel, months=None) -> tuple[int, bool]:
    """Rebuild ``model`` (its ``months`` when partitioned) unless its inputs and SQL are those it
    was last built with (:func:`pipelines.sql_engine.build_state.rebuild_unless_current`). Returns (rows it
    holds for what was asked, whether it was rebuilt)."""
    partitioned = bool(model.partition_by) and months is not None
    where = partition_filter(model, months) if partitioned else "true"
    full = bool(model.partition_by) and needs_full_build(con, model)  # asked once: it binds the model's query
    built: list[int] = []
    rebuilt = build_state.rebuild_unless_current(
        con, model.table, [model.sql, sorted(months) if partitioned else None], model.upstream_tables - {model.table},
        months, where, lambda record: built.append(run_model(con, model, months, before_commit=record, full=full)),
        force=full,
    )
    if rebuilt:
        return built[0], True
    return con.execute(f"select count(*) from {model.table} where {where}").fetchall()[0][0], False
