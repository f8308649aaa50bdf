"""Publishing to a DuckLake catalog: the warehouse beyond one file (pure DuckDB, no Dagster).

The published file serves one machine's BI tools. A ministry that outgrows it keeps the same marts
in a DuckLake: the catalog in PostgreSQL (or any database DuckLake takes), the data as Parquet on
shared storage, readable by many DuckDB clients on many machines at once, every publish a
snapshot that can be read again later (``AT (VERSION => n)``).

Write-audit-publish holds as for the file: the lake receives only what the publish step publishes,
that is a warehouse whose blocking checks passed, and it receives it in **one transaction**:

1. every table of :data:`~pipelines.publishing.contents.PUBLISHED_SCHEMAS` is replaced from the
   published file, with its comments, and tables that are no longer published are dropped;
2. still inside the transaction, each lake table is audited against its source (row count and a
   hash over every row): a difference rolls everything back and names the table;
3. the commit becomes one DuckLake snapshot carrying the source's fingerprint. A reader sees the
   previous snapshot or this one, never a mix; publishing the same file again adds no snapshot.

This module runs under any DuckDB that can load the ``ducklake`` extension (and ``postgres_scanner``
for a PostgreSQL catalog). The pipeline's own DuckDB has no such extension on PyPI yet, so the publish
step (``publish/lake``) runs ``python -m pipelines.publishing.lake`` in the interpreter ``KONVERGENSI_LAKE_PYTHON`` names:
``make lake-env`` builds ``.venv-lake`` from ``requirements-lake.lock`` (DuckDB 1.5.5 with the
extension wheels, which load offline). It imports nothing but DuckDB and the standard library.
docs/deploy.md, "The warehouse beyond one file".
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import sys
from pathlib import Path

from pipelines.publishing.contents import _ident, _literal, copy_table, published_tables

CATALOG_ENV = "KONVERGENSI_LAKE_CATALOG"
DATA_PATH_ENV = "KONVERGENSI_LAKE_DATA_PATH"
PYTHON_ENV = "KONVERGENSI_LAKE_PYTHON"
LAKE = "lake"
SOURCE = "published"
AUTHOR = "konvergensi"


class LakeError(RuntimeError):
    """The lake cannot be reached or written; the lake keeps its previous snapshot."""


class LakeAuditError(LakeError):
    """A lake table differs from its source after the copy; nothing was committed."""


def load_extension(con, name: str) -> None:
    """``LOAD name``: from DuckDB's own extension folder, else from the ``duckdb-extension-<name>``
    wheel (PyPI), which carries the binary for one DuckDB version and loads with no network."""
    try:
        con.execute(f"LOAD {name}")
        return
    except Exception as first:  # noqa: BLE001 - not installed: try the wheel
        import duckdb

        spec = importlib.util.find_spec(f"duckdb_extension_{name}")
        if spec is None or not spec.submodule_search_locations:
            raise LakeError(
                f"DuckDB {duckdb.__version__} cannot load the {name} extension ({first}); "
                f"run the lake publish in an interpreter that can ({PYTHON_ENV}; `make lake-env`)") from None
        folder = Path(list(spec.submodule_search_locations)[0]) / "extensions" / f"v{duckdb.__version__}"
        binary = folder / f"{name}.duckdb_extension"
        if not binary.is_file():
            raise LakeError(f"the {name} extension wheel has no build for DuckDB {duckdb.__version__} "
                            f"(looked for {binary})") from None
        con.execute(f"LOAD {_literal(str(binary))}")


def attach_lake(con, catalog: str, data_path: str = "", *, read_only: bool = False, alias: str = LAKE) -> None:
    """Attach the DuckLake ``catalog`` (``postgres:dbname=… host=…``, or a DuckDB/SQLite file path)
    as ``alias``; ``data_path`` is where its Parquet files go (needed when the lake is created)."""
    if catalog.startswith("postgres:"):
        load_extension(con, "postgres_scanner")
    load_extension(con, "ducklake")
    options = []
    if data_path:
        options.append(f"DATA_PATH {_literal(data_path)}")
    if read_only:
        options.append("READ_ONLY")
    suffix = f" ({', '.join(options)})" if options else ""
    try:
        con.execute(f"ATTACH {_literal('ducklake:' + catalog)} AS {_ident(alias)}{suffix}")
    except Exception as exc:  # noqa: BLE001 - name the catalog, not the password
        said = " ".join(str(exc).split())  # one line: the driver's message spans several
        raise LakeError(f"cannot attach the DuckLake catalog ({_safe(catalog)}): {said}") from None


def _safe(catalog: str) -> str:
    """The catalog string without a password."""
    return " ".join("password=…" if part.lower().startswith("password=") else part for part in catalog.split())


def table_digest(con, database: str, schema: str, table: str, at: int | None = None) -> tuple[int, str]:
    """(rows, sum of a hash over every whole row) of one table, of a lake table as of snapshot
    ``at`` if given: equal for equal contents whatever the storage (a DuckDB file, a DuckLake's
    Parquet or inlined rows) or the row order."""
    name = f"{_ident(database)}.{_ident(schema)}.{_ident(table)}"
    version = f" at (version => {int(at)})" if at is not None else ""
    rows, digest = con.execute(f"select count(*), coalesce(sum(hash(t)), 0)::varchar from {name} as t{version}").fetchone()
    return int(rows), str(digest)


def fingerprint(con, database: str) -> tuple[str, dict[tuple[str, str], tuple[int, str]]]:
    """One fingerprint of every published table of ``database`` (names, columns, digests), and each
    table's :func:`table_digest` (the audit compares the lake with these: each table hashed once)."""
    h = hashlib.sha256()
    digests = {}
    for schema, table, _ in published_tables(con, database):
        columns = con.execute(
            "select column_name, data_type from duckdb_columns() where database_name = ? and schema_name = ? "
            "and table_name = ? order by column_index", [database, schema, table]).fetchall()
        digests[schema, table] = table_digest(con, database, schema, table)
        h.update(repr((schema, table, columns, digests[schema, table])).encode())
    return h.hexdigest(), digests


def last_snapshot(con, alias: str = LAKE) -> tuple[int, dict]:
    """The lake's newest snapshot id and the extra information its commit carried (``{}`` if none)."""
    snapshot_id, extra = con.execute(
        f"select snapshot_id, commit_extra_info from {_ident(alias)}.snapshots() "
        f"order by snapshot_id desc limit 1").fetchone()
    try:
        return int(snapshot_id), json.loads(extra) if extra else {}
    except ValueError:
        return int(snapshot_id), {}


def publish_to_lake(source: Path, catalog: str, data_path: str = "") -> dict:
    """Publish the published file ``source`` to the lake as one snapshot (the module docstring's
    three steps). Returns figures for the run's metadata: snapshot id, tables, rows, unchanged."""
    import duckdb

    if not Path(source).is_file():
        raise LakeError(f"no published file at {source}")
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH {_literal(str(source))} AS {SOURCE} (READ_ONLY)")
        attach_lake(con, catalog, data_path)
        tables = published_tables(con, SOURCE)
        source_fp, digests = fingerprint(con, SOURCE)
        snapshot, extra = last_snapshot(con)
        if extra.get("fingerprint") == source_fp:
            return {"lake_snapshot": snapshot, "lake_unchanged": True, "lake_tables": len(tables)}
        rows = 0
        con.execute("BEGIN TRANSACTION")
        try:
            for schema in sorted({t[0] for t in tables}):
                con.execute(f"create schema if not exists {LAKE}.{_ident(schema)}")
            for schema, table, comment in tables:
                copy_table(con, SOURCE, LAKE, schema, table, comment, replace=True)
            published = {(s, t) for s, t, _ in tables}
            for schema, table, _ in published_tables(con, LAKE):
                if (schema, table) not in published:
                    con.execute(f"drop table {LAKE}.{_ident(schema)}.{_ident(table)}")
            for schema, table, _ in tables:  # audit, before anything is visible
                want = digests[schema, table]
                got = table_digest(con, LAKE, schema, table)
                if got != want:
                    raise LakeAuditError(f"lake table {schema}.{table} differs from the published file after the "
                                         f"copy ({got[0]:,} rows vs {want[0]:,}); nothing was committed")
                rows += want[0]
            info = json.dumps({"fingerprint": source_fp, "source": str(source)})
            con.execute(f"call {LAKE}.set_commit_message({_literal(AUTHOR)}, "
                        f"{_literal(f'publish of {Path(source).name}: {len(tables)} tables')}, "
                        f"extra_info => {_literal(info)})")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        snapshot, _ = last_snapshot(con)
        return {"lake_snapshot": snapshot, "lake_unchanged": False, "lake_tables": len(tables), "lake_rows": rows}
    finally:
        con.close()


def configured() -> bool:
    return bool(os.environ.get(CATALOG_ENV, "").strip())


def publish_in_lake_python(source: Path, timeout_s: float = 3600) -> dict:
    """Run :func:`publish_to_lake` in ``KONVERGENSI_LAKE_PYTHON`` (default: this interpreter) on the
    catalog and data path the environment names; what the publish/lake step calls."""
    import subprocess

    python = os.environ.get(PYTHON_ENV, "").strip() or sys.executable
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([python, "-m", "pipelines.publishing.lake", "--source", str(source), "--json"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines() or ["(no message)"]
        said = next((line.removeprefix("lake publish: ") for line in lines if line.startswith("lake publish: ")),
                    lines[-1])
        raise LakeError(f"the lake publish failed (with {python}): {said}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Publish a published warehouse file to the DuckLake catalog.")
    parser.add_argument("--source", required=True, help="the published DuckDB file (or a kept version of it)")
    parser.add_argument("--catalog", default=os.environ.get(CATALOG_ENV, ""),
                        help=f"DuckLake catalog, e.g. 'postgres:dbname=lake host=db' (default ${CATALOG_ENV})")
    parser.add_argument("--data-path", default=os.environ.get(DATA_PATH_ENV, ""),
                        help=f"where the lake's Parquet files go (default ${DATA_PATH_ENV})")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    args = parser.parse_args(argv)
    if not args.catalog:
        parser.error(f"no catalog: pass --catalog or set {CATALOG_ENV}")
    try:
        figures = publish_to_lake(Path(args.source), args.catalog, args.data_path)
    except LakeError as exc:
        print(f"lake publish: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(figures))
    else:
        state = "unchanged" if figures["lake_unchanged"] else "published"
        print(f"lake publish: {state}, snapshot {figures['lake_snapshot']}, {figures['lake_tables']} tables")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
