"""Ingestion throughput: generate submissions, land them all in a fresh DuckDB file, print figures.

    python benchmarks/bench_ingest.py [--scale banten|small] [--keep DIR]

Prints per stream: files, source rows, rows landed, rows quarantined, wall time and rows/s, plus
the same stream parsed one file at a time (the naive baseline) on a sample, and the ratio.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

import duckdb
import pandas as pd

from pipelines.ingestion.incoming import Incoming, landing_incoming
from pipelines.ingestion.land import land_submissions
from pipelines.parsing.layouts import STREAMS
from pipelines.parsing.parse import parse_batch, parse_submission
from pipelines.parsing.pseudonym import Pseudonymiser
from pipelines.parsing.regions import RegionIndex
from pipelines.synthetic.generate import generate

BASELINE_SAMPLE_FILES = 40


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="banten", choices=["small", "banten"])
    parser.add_argument("--keep", default=None, help="reuse/keep generated data in this folder")
    args = parser.parse_args()

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    data = work / "submissions"
    if not (data / "region_master.csv").exists():
        t = time.perf_counter()
        generate(data, scale=args.scale, seed=7)
        print(f"generated {args.scale} submissions in {time.perf_counter() - t:.1f} s")
    regions = RegionIndex.from_frame(pd.read_csv(data / "region_master.csv", dtype=str, keep_default_na=False))
    pseudonymiser = Pseudonymiser(b"bench-key")

    def parse_many(stream, files, hints=None):
        return parse_batch(stream, files, hints, pseudonymiser=pseudonymiser, regions=regions)

    db = work / "bench.duckdb"
    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    for schema in ("raw", "quarantine"):
        con.execute(f"create schema if not exists {schema}")

    print(f"\n{'stream':<20}{'files':>7}{'src rows':>11}{'landed':>11}{'quarant.':>9}{'wall s':>8}{'rows/s':>10}"
          f"{'naive rows/s':>14}{'ratio':>7}")
    total_rows = total_s = 0.0
    for stream in STREAMS:
        files = sorted((data / stream).glob("*"))
        if not files:
            continue
        t = time.perf_counter()
        rep = land_submissions(con, landing_incoming(data, [stream]), parse_many, "bench")
        wall = time.perf_counter() - t
        src = rep.rows_accepted + rep.rows_rejected
        total_rows += src
        total_s += wall
        # Naive baseline: the same parser called once per file, on a sample, without DuckDB writes.
        sample = files[:BASELINE_SAMPLE_FILES]
        t = time.perf_counter()
        n_naive = sum(
            parse_submission(stream, f.read_bytes(), f.name, Incoming(stream, f.name, "landing", None, bytes).hints,
                             pseudonymiser=pseudonymiser, regions=regions).n_source_rows
            for f in sample
        )
        naive = n_naive / (time.perf_counter() - t)
        rate = src / wall if wall else 0
        print(f"{stream:<20}{len(files):>7}{src:>11,.0f}{rep.rows_accepted:>11,}{rep.rows_rejected:>9,}"
              f"{wall:>8.1f}{rate:>10,.0f}{naive:>14,.0f}{rate / naive if naive else 0:>7.1f}")
    con.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\ntotal: {total_rows:,.0f} rows in {total_s:.1f} s = {total_rows / total_s:,.0f} rows/s; "
          f"peak RSS {peak_mb:,.0f} MB; DuckDB file {db.stat().st_size / 1e6:,.1f} MB")
    print(f"(naive = parse_submission one file at a time on the first {BASELINE_SAMPLE_FILES} files of the stream)")
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
