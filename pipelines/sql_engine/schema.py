"""Column names and types of every SQL model, known before anything is built: each model's SELECT
runs with ``limit 0`` over empty tables in an in-memory DuckDB, in dependency order, starting from
the tables Python declares (:mod:`pipelines.tables`). What the Dagster UI shows as a model's columns
is therefore what a build will write, without opening the warehouse.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from pipelines.settings import SCHEMAS
from pipelines.sql_engine.models import SqlModel, _body


def model_column_types(models: Iterable[SqlModel], source_ddl: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    """``schema.table -> [(column, TYPE)]`` for every model whose SELECT runs over empty sources
    (``source_ddl``: ``create table`` statements of the Python-built tables). A model that does not
    (it reads itself, or a table that failed) is left out: its types show once it is built."""
    pending = {m.table: m for m in models}
    out: dict[str, list[tuple[str, str]]] = {}
    con = duckdb.connect(":memory:")
    try:
        for schema in SCHEMAS:
            con.execute(f"create schema if not exists {schema}")
        for ddl in source_ddl:
            con.execute(ddl)
        progress = True
        while pending and progress:
            progress = False
            for table, model in list(pending.items()):
                if model.upstream_tables & (set(pending) - {table}):
                    continue
                del pending[table]
                progress = True
                try:
                    con.execute(f"create table {table} as select * from (\n{_body(model)}\n) limit 0")
                except duckdb.Error:
                    continue
                out[table] = [(r[0], r[1]) for r in con.execute(f"describe {table}").fetchall()]
    finally:
        con.close()
    return out
