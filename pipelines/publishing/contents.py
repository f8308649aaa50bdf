"""What the published file holds and who may read it (pure: DuckDB + filesystem).

BI reads :data:`PUBLISHED_SCHEMAS`: the marts (facts, dimensions, BI marts and the quarantine
summary) and the reference settings. ``raw``, ``quarantine`` and ``staging`` (pseudonymised rows,
refused rows' payloads, file names, landing paths, build bookkeeping) stay in the working file.
"""

from __future__ import annotations

import os
from pathlib import Path

PUBLISHED_SCHEMAS = ("marts", "reference")
DEFAULT_PUBLISHED_MODE = 0o640


def published_mode() -> int:
    """File mode of the published file: ``KONVERGENSI_PUBLISHED_MODE`` (octal, e.g. ``0644`` to let
    every local user read it), else 0640 (owner and group: give BI's service account the group)."""
    raw = os.environ.get("KONVERGENSI_PUBLISHED_MODE", "").strip()
    if not raw:
        return DEFAULT_PUBLISHED_MODE
    try:
        mode = int(raw, 8)
    except ValueError:
        raise ValueError(f"KONVERGENSI_PUBLISHED_MODE={raw!r} is not an octal file mode such as 0640") from None
    if mode & ~0o777 or not mode & 0o400:
        raise ValueError(f"KONVERGENSI_PUBLISHED_MODE={raw!r}: the owner must be able to read the file (e.g. 0640)")
    return mode


def private_mkdir(folder: Path) -> None:
    """Create ``folder`` and any missing parent with mode 0750 (no world access); existing folders
    keep their mode (an operator's choice)."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir(mode=0o750, exist_ok=True)


def copy_published_tables(con, source: str, target: str) -> list[str]:
    """Copy every table of :data:`PUBLISHED_SCHEMAS` in the attached database ``source`` into the
    attached ``target``, with its table and column comments (what BI tools show). Returns the
    tables copied."""
    found = published_tables(con, source)
    copied = []
    for schema in sorted({row[0] for row in found}):
        con.execute(f"create schema if not exists {target}.{_ident(schema)}")
    for schema, table, comment in found:
        copy_table(con, source, target, schema, table, comment)
        copied.append(f"{schema}.{table}")
    return copied


def published_tables(con, database: str) -> list[tuple[str, str, str | None]]:
    """(schema, table, comment) of every table of :data:`PUBLISHED_SCHEMAS` in the attached ``database``."""
    wanted = ", ".join(_literal(s) for s in PUBLISHED_SCHEMAS)
    return [tuple(row) for row in con.execute(
        f"select schema_name, table_name, comment from duckdb_tables() where database_name = ? "
        f"and schema_name in ({wanted}) order by 1, 2", [database]).fetchall()]


def copy_table(con, source: str, target: str, schema: str, table: str, comment: str | None,
               replace: bool = False) -> None:
    """Copy one table from the attached ``source`` into the attached ``target`` (``create or
    replace`` when ``replace``), with its table and column comments."""
    name = f"{_ident(schema)}.{_ident(table)}"
    con.execute(f"create {'or replace ' if replace else ''}table {target}.{name} as select * from {source}.{name}")
    if comment:
        con.execute(f"comment on table {target}.{name} is {_literal(comment)}")
    for column, text in con.execute(
        "select column_name, comment from duckdb_columns() where database_name = ? and schema_name = ? "
        "and table_name = ? and comment is not null and comment <> '' order by column_index",
        [source, schema, table],
    ).fetchall():
        con.execute(f"comment on column {target}.{name}.{_ident(column)} is {_literal(text)}")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
