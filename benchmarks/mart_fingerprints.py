"""Fingerprints of a warehouse's tables, to prove a faster pipeline gives the same results.

    python benchmarks/mart_fingerprints.py WAREHOUSE.duckdb [--schemas marts,staging,...] [--exclude COL,...]

Prints one line per table: ``schema.table  rows  sha256`` where the hash covers every row, in a
sorted order, of every column except those that change by design from run to run (run ids, and
every ``*_at`` timestamp of loading, building or checking: ``--exclude`` adds more). Two warehouses built from the same submissions
print the same lines when their contents are equal; ``diff`` the outputs.
"""

from __future__ import annotations

import argparse
import sys

import duckdb

# Columns that differ between two builds of the same data by design.
VOLATILE = {"run_id", "loaded_at", "built_at", "ingested_at", "received_at", "landed_at", "published_at",
            "validated_at", "recorded_at", "decided_at", "first_seen_at", "last_seen_at", "generated_at",
            "as_of", "duration_s", "mtime", "fingerprinted_at", "updated_at", "rejected_at", "warned_at",
            "started_at", "seen_at", "finished_at", "checked_at", "evaluated_at", "run_started_at"}


def fingerprints(path: str, schemas: list[str], exclude: set[str]) -> list[tuple[str, int, str]]:
    con = duckdb.connect(path, read_only=True)
    out = []
    tables = con.execute(
        "select table_schema, table_name from information_schema.tables where table_schema in ({}) "
        "order by 1, 2".format(",".join("?" * len(schemas))), schemas).fetchall()
    for schema, table in tables:
        cols = [c for (c,) in con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
            "order by ordinal_position", [schema, table]).fetchall() if c not in VOLATILE | exclude and not c.endswith("_at")]
        if not cols:
            continue
        select = ", ".join(f'"{c}"' for c in cols)
        # Each row as text, hashed in DuckDB; the table's hash is over the sorted row hashes.
        row_hash = f"md5(cast(row({select}) as varchar))"
        n, digest = con.execute(
            f'select count(*), coalesce(md5(string_agg(h, \'\' order by h)), \'\') from '
            f'(select {row_hash} as h from "{schema}"."{table}")').fetchone()
        out.append((f"{schema}.{table}", n, digest))
    con.close()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("warehouse")
    parser.add_argument("--schemas", default="marts,staging,raw,quarantine")
    parser.add_argument("--exclude", default="")
    args = parser.parse_args(argv)
    for name, n, digest in fingerprints(args.warehouse, args.schemas.split(","),
                                        {c for c in args.exclude.split(",") if c}):
        print(f"{name:<50} {n:>10,} {digest}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
