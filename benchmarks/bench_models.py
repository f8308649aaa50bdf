"""Time every SQL model's build and its YAML tests, one by one, against a copy of a warehouse.

    python benchmarks/bench_models.py WAREHOUSE.duckdb [--only name,name] [--no-copy]

The warehouse is one a run left behind (``bench_pipeline.py --keep``); it is copied first (unless
``--no-copy``), so the original stays as it was. Each model is rebuilt whole (no reuse of a
current build, no reuse of test outcomes), in dependency order, with the pipeline's DuckDB
settings and the model steps' memory cap; its build, its tests and its rows are printed, then the
total. Use it to find the models whose cost grows faster than the data: run it on a Banten and a
national warehouse and compare the µs per row.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines import settings  # noqa: E402
from pipelines.sql_engine import build_state  # noqa: E402
from pipelines.sql_engine.build import run_model  # noqa: E402
from pipelines.sql_engine.model_tests import run_model_tests  # noqa: E402
from pipelines.sql_engine.models import discover_models  # noqa: E402


def _in_order(models):
    by_table = {m.table: m for m in models}
    done, order = set(), []

    def visit(m):
        if m.table in done:
            return
        done.add(m.table)
        for ref in sorted(m.upstream_tables):
            if ref in by_table and ref != m.table:
                visit(by_table[ref])
        order.append(m)

    for m in models:
        visit(m)
    return order


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("--only", default="", help="comma-separated model names (the others are not rebuilt)")
    parser.add_argument("--no-copy", action="store_true", help="work on the file itself")
    parser.add_argument("--no-tests", action="store_true")
    args = parser.parse_args()

    path = args.warehouse
    tmp = None
    if not args.no_copy:
        tmp = Path(tempfile.mkdtemp(prefix="bench-models-", dir=str(path.parent)))
        t = time.perf_counter()
        shutil.copyfile(path, tmp / path.name)
        path = tmp / path.name
        print(f"copied {args.warehouse.stat().st_size / 1e6:,.0f} MB in {time.perf_counter() - t:.1f} s")
    only = {s for s in args.only.split(",") if s}
    models = _in_order(discover_models(ROOT / "dbt_like_sql"))
    config = settings.duckdb_config() | {"memory_limit": settings.model_memory_limit()}  # as a model step has it
    con = duckdb.connect(str(path), config=config)
    build_state.ensure(con)
    total_build = total_tests = 0.0
    print(f"{'model':45} {'rows':>12} {'build s':>8} {'tests s':>8} {'µs/row':>8}")
    try:
        for m in models:
            if only and m.name not in only:
                continue
            t = time.perf_counter()
            rows = run_model(con, m)
            build = time.perf_counter() - t
            tests = 0.0
            if not args.no_tests and m.tests:
                con.execute("delete from raw.check_outcomes")
                t = time.perf_counter()
                run_model_tests(con, m, list(m.tests))
                tests = time.perf_counter() - t
            total_build += build
            total_tests += tests
            per_row = (build + tests) / rows * 1e6 if rows else 0.0
            print(f"{m.table:45} {rows:>12,} {build:>8.2f} {tests:>8.2f} {per_row:>8.2f}", flush=True)
    finally:
        con.close()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"{'total':45} {'':>12} {total_build:>8.2f} {total_tests:>8.2f}")


if __name__ == "__main__":
    main()
