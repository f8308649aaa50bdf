"""Skip rebuilding what would come out the same: table versions and build signatures.

A night with no new submissions used to rebuild every aggregate mart and re-run every check on
identical inputs. Every table now has a *version*, and every SQL model, the z-scores and every
SQL test a *signature*: a digest of its code (SQL text, requested months) and the versions of the
tables it reads. A model whose signature equals the one it was last built with is not rebuilt
(its contents would be identical: no model reads the clock), and a test whose signature is
unchanged reuses its last outcome.

Versions (``raw.table_versions``):

* tables rebuilt whole by a model: the model's build signature;
* partitions replaced by a model or the z-scores: a content digest (row count and the sum of row
  hashes) of the replaced months, before and after. The version moves only when those rows
  changed, so rebuilding an empty current month on a quiet night changes nothing downstream;
* tables a Python asset replaces (region master, WHO LMS): their content digest;
* the append-only ingestion tables (``raw.<stream>``, ``raw.submissions``, its validation and
  warnings, ``quarantine.*``),
  never recorded: their row count, which grows with every submission landed;
* any other table nobody recorded (``raw.landing_fingerprints``, a table made by hand): its
  content digest.

:func:`state_token` digests every table's version: equal tokens mean equal databases, which
lets a quiet night's publish skip reading the whole warehouse.

A table nobody recorded and that does not exist has the version ``missing``. Anything that
writes these tables outside the pipeline must delete their ``raw.table_versions`` rows
(``delete from raw.table_versions`` forces a full rebuild), or the next run may keep stale
results.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable


def ensure(con) -> None:
    """Create the bookkeeping tables (declared in pipelines/tables.py) when missing."""
    from pipelines import tables

    for name in sorted(BOOKKEEPING):
        tables.ensure(con, name)


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, default=str, sort_keys=True).encode()).hexdigest()[:32]


# The tables of the connection's own database, from DuckDB's catalog function: half the time of
# information_schema.tables (0.7 against 1.3 ms; a run asks a few hundred times), and no table of
# another attached database answers for one of ours.
_OWN_TABLES = "select schema_name, table_name from duckdb_tables() where database_name = current_database()"


def table_exists(con, table: str) -> bool:
    schema, name = table.split(".", 1)
    return bool(con.execute(
        f"select count(*) from ({_OWN_TABLES}) where schema_name = ? and table_name = ?", [schema, name]
    ).fetchall()[0][0])


def _recorded(con, table: str) -> tuple[str, str | None] | None:
    if not table_exists(con, "raw.table_versions"):
        return None
    rows = con.execute(
        "select version, build_signature from raw.table_versions where table_name = ?", [table]
    ).fetchall()
    return rows[0] if rows else None


def _append_only() -> frozenset[str]:
    # Every table ingestion only appends to (pipelines/tables.py): their rows carry run ids and
    # timestamps, so a content digest would differ between two runs landing the same files. The
    # landing fingerprints are updated in place, so they keep a content digest.
    from pipelines.tables import INGESTION_TABLES

    return frozenset(INGESTION_TABLES) - {"raw.landing_fingerprints"}


APPEND_ONLY = _append_only()
BOOKKEEPING = frozenset({"raw.table_versions", "raw.check_outcomes"})


def table_version(con, table: str) -> str:
    """The table's version (see the module docstring)."""
    recorded = _recorded(con, table)
    if not table_exists(con, table):
        return "missing"
    if recorded is not None:
        return recorded[0]
    if table in APPEND_ONLY:
        return "rows:" + str(con.execute(f"select count(*) from {table}").fetchall()[0][0])
    return "content:" + content_digest(con, table)


def state_token(con) -> str:
    """Digest of every table's name, columns and version (bookkeeping excluded)."""
    tables = con.execute(
        "select schema_name || '.' || table_name, string_agg(column_name || ' ' || data_type, ',' "
        "order by column_index) from duckdb_columns() where database_name = current_database() "
        "group by all order by 1"
    ).fetchall()
    versions = table_versions(con, [table for table, _ in tables if table not in BOOKKEEPING])
    return _digest([(table, columns, versions[table]) for table, columns in tables if table not in BOOKKEEPING])


def signature(con, code: Iterable[object], inputs: Iterable[str], versions: dict[str, str] | None = None) -> str:
    """Digest of ``code`` and the versions of the ``inputs`` tables (looked up in ``versions``,
    from :func:`table_versions`, when given)."""
    inputs = set(inputs)
    if versions is None:
        versions = table_versions(con, inputs)
    return _digest(list(code), {t: versions[t] for t in sorted(inputs)})


def table_versions(con, tables: Iterable[str]) -> dict[str, str]:
    """:func:`table_version` of each of ``tables``, with two queries for all of them instead of
    three or four each (a model's tests read the same few tables over and over)."""
    existing = {f"{s}.{t}" for s, t in con.execute(_OWN_TABLES).fetchall()}
    recorded = dict(con.execute(
        "select table_name, version from raw.table_versions"
    ).fetchall()) if "raw.table_versions" in existing else {}
    versions = {}
    for table in set(tables):
        if table not in existing:
            versions[table] = "missing"
        elif table in recorded:
            versions[table] = recorded[table]
        else:
            versions[table] = table_version(con, table)
    return versions


def content_digest(con, table: str, where: str = "true") -> str:
    """Row count and sum of row hashes of ``table`` (rows matching ``where``)."""
    n, total = con.execute(
        f"select count(*), coalesce(sum(hash(_row)::hugeint), 0) from {table} as _row where {where}"
    ).fetchall()[0]
    return f"{n}:{total}"


def is_current(con, table: str, build_signature: str) -> bool:
    """Whether ``table`` exists and was last built with ``build_signature``."""
    recorded = _recorded(con, table)
    return recorded is not None and recorded[1] == build_signature and table_exists(con, table)


def record(con, table: str, version: str, build_signature: str | None = None) -> None:
    con.execute(
        "insert or replace into raw.table_versions values (?, ?, ?)", [table, version, build_signature]
    )


def forget(con, tables: Iterable[str]) -> None:
    """Drop the recorded versions of ``tables``: models reading them are rebuilt next time."""
    for table in tables:
        con.execute("delete from raw.table_versions where table_name = ?", [table])


def partition_version(con, table: str, before: str | None, after: str, months) -> str:
    """New version of a table whose ``months`` were replaced: unchanged when the replaced rows
    have the same digest as before."""
    recorded = _recorded(con, table)
    if recorded is not None and before == after:
        return recorded[0]
    return _digest(recorded[0] if recorded else None, after, sorted(months or []))


def rebuild_unless_current(con, table: str, code: Iterable[object], inputs: Iterable[str], months,
                           where: str, rebuild, force: bool = False) -> bool:
    """Call ``rebuild(record_version)`` unless ``table`` was last built from the same ``code`` and
    input versions (or ``force``); return whether it was called.

    ``rebuild`` replaces the table (or its ``months``, the rows matching ``where``) in one
    transaction and calls ``record_version(tx, whole)`` in it before committing, so that rows and
    version change together. A whole rebuild's version is its signature; a partial one keeps the
    old version when the replaced rows are identical (see :func:`partition_version`).
    """
    ensure(con)
    sig = signature(con, code, inputs)
    if not force and is_current(con, table, sig):
        return False
    before = content_digest(con, table, where) if where != "true" and table_exists(con, table) else None

    def record_version(tx, whole: bool) -> None:
        version = sig if whole else partition_version(tx, table, before, content_digest(tx, table, where), months)
        record(tx, table, version, sig)

    rebuild(record_version)
    return True


def reusable_outcomes(con, check_names: Iterable[str]) -> dict[str, tuple[str, int]]:
    """(signature, failing rows) last recorded for each of ``check_names`` that has one."""
    names = sorted(set(check_names))
    if not names:
        return {}
    rows = con.execute(
        "select check_name, signature, failing from raw.check_outcomes where list_contains(?, check_name)", [names]
    ).fetchall()
    return {name: (sig, int(failing)) for name, sig, failing in rows}


def record_outcomes(con, outcomes: Iterable[tuple[str, str, int]]) -> None:
    """Record (check name, signature, failing rows) of several tests in one transaction."""
    outcomes = list(outcomes)
    if outcomes:
        # One statement: executemany runs one insert per row, each a few milliseconds.
        names, signatures, failing = (list(column) for column in zip(*outcomes, strict=True))
        con.execute(
            "insert or replace into raw.check_outcomes select unnest(?), unnest(?), unnest(?::bigint[])",
            [names, signatures, failing],
        )
