"""Every asset in the UI shows its columns (types, and for the marts a description on every column:
the comments BI sees) and links to the file that builds it."""

from pathlib import Path

import duckdb

from pipelines import tables
from pipelines.assets.catalog import CODE_REFERENCES, COLUMN_SCHEMA, FILE_ASSETS
from pipelines.definitions import MODELS, defs
from pipelines.publishing.contents import PUBLISHED_SCHEMAS
from pipelines.sql_engine.build import build_statements
from pipelines.tables import TABLES, key


def _metadata():
    graph = defs.resolve_asset_graph()
    return {key: graph.get(key).metadata for key in graph.get_all_asset_keys()}


def test_every_asset_links_to_an_existing_file():
    for asset_key, meta in _metadata().items():
        refs = meta[CODE_REFERENCES].code_references
        assert refs, asset_key
        for ref in refs:
            assert Path(ref.file_path).is_file(), (asset_key, ref.file_path)


def test_every_table_has_typed_columns_and_every_published_column_a_description():
    """Marts and reference are what BI reads: each of their columns carries its comment."""
    for asset_key, meta in _metadata().items():
        if asset_key in FILE_ASSETS:
            continue
        columns = _columns(meta)
        assert columns and all(c.type for c in columns), asset_key
        if asset_key.path[0] in PUBLISHED_SCHEMAS:
            assert [c.name for c in columns if not c.description] == [], asset_key


def test_python_tables_are_created_with_the_comments_the_ui_shows():
    meta = _metadata()
    con = duckdb.connect(":memory:")
    con.execute("create schema reference")
    for name in ("reference.run_date", "reference.who_growth_lms"):
        tables.create(con, name)
        schema, table = name.split(".")
        rows = con.execute(
            "select column_name, data_type, comment from duckdb_columns() "
            "where schema_name = ? and table_name = ? order by column_index", [schema, table],
        ).fetchall()
        declared = [(c.name, c.type, c.description) for c in _columns(meta[key(name)])]
        assert declared == [tuple(r) for r in rows], name


def _columns(meta):
    value = meta[COLUMN_SCHEMA]
    return getattr(value, "schema", value).columns


def test_sql_model_columns_are_what_a_build_writes():
    """The declared schema of every model equals the table a real build writes (over empty sources):
    same names, order and DuckDB types, and the descriptions are the built table's column comments."""
    meta = _metadata()
    con = duckdb.connect(":memory:")
    for schema in ("raw", "quarantine", "reference", "staging", "marts"):
        con.execute(f"create schema {schema}")
    for spec in TABLES.values():
        con.execute(spec.create_sql())
    pending = {m.table: m for m in MODELS}
    while pending:
        ready = [m for t, m in pending.items() if not m.upstream_tables & (set(pending) - {t})]
        assert ready, sorted(pending)
        for model in ready:
            del pending[model.table]
            for stmt in build_statements(model):
                con.execute(stmt)
            schema, table = model.table.split(".")
            rows = con.execute(
                "select column_name, data_type, comment from duckdb_columns() "
                "where schema_name = ? and table_name = ? order by column_index", [schema, table],
            ).fetchall()
            declared = [(c.name, c.type, c.description) for c in _columns(meta[key(model.table)])]
            assert declared == [tuple(r) for r in rows], model.table
