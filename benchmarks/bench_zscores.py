"""Throughput of the vectorised WHO z-scores against the per-row pygrowup baseline.

Run: .venv/bin/python benchmarks/bench_zscores.py [--sizes 1000000 10000000] [--baseline-rows 20000]

Generates plausible children (numpy, fixed seed): age 0-1826 days, length/height and weight drawn from
the WHO LMS tables at z ~ N(-1, 1.2), lying before 731 days and standing after with 5 % wrong positions
and 5 % unknown. pygrowup (package pygrowup2) has no vectorised API: its per-row `Observation` is timed
on a sample and the rate extrapolated; it also rounds each z to 2 decimals and does not interpolate
lengths between 0.1 cm rows, so it is a speed baseline, not a correctness one.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from decimal import Decimal

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from pipelines.growth.who_tables import lms_arrays  # noqa: E402
from pipelines.growth.zscores import compute_zscores  # noqa: E402


def _value_at(table, sex, x_idx, z):
    l, m, s = (getattr(table, a)[sex, x_idx - table.first] for a in ("l", "m", "s"))  # noqa: E741
    return m * (1 + l * s * z) ** (1 / l)


def make_rows(n: int, seed: int = 2006) -> dict:
    """Plausible synthetic measurements (no personal data)."""
    rng = np.random.default_rng(seed)
    tables = lms_arrays()
    sex = rng.integers(1, 3, n).astype(np.int8)
    age = rng.integers(0, 1827, n)
    lenhei = np.round(_value_at(tables["lfa"], sex - 1, age, rng.normal(-1, 1.2, n)), 1)
    weight = np.round(_value_at(tables["wfa"], sex - 1, age, rng.normal(-0.9, 1.1, n)), 2)
    measure = np.where(age < 731, "l", "h")
    swap = rng.random(n) < 0.05
    measure[swap] = np.where(measure[swap] == "l", "h", "l")
    measure = measure.astype(object)
    measure[rng.random(n) < 0.05] = None
    return {
        "sex": sex,
        "age_days": age,
        "weight_kg": weight,
        "lenhei_cm": lenhei,
        "measure": pd.Categorical(measure, categories=["l", "h"]),
    }


def time_vectorised(rows: dict, repeats: int = 3, n_threads: int | None = None) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        compute_zscores(**rows, n_threads=n_threads)
        best = min(best, time.perf_counter() - start)
    return best


def _quietly(method, *args, **kwargs):
    try:
        return method(*args, **kwargs)
    except Exception:
        return None  # out of the table's range: no z, as in the vectorised version


def time_pygrowup(rows: dict, sample: int) -> float:
    from pygrowup import Observation

    sexes = {1: Observation.MALE, 2: Observation.FEMALE}
    measure = np.asarray(rows["measure"].astype(object))
    start = time.perf_counter()
    for i in range(sample):
        age = int(rows["age_days"][i])
        weight = Decimal(str(rows["weight_kg"][i]))
        length = Decimal(str(rows["lenhei_cm"][i]))
        try:
            obs = Observation(sexes[int(rows["sex"][i])], age_in_days=age)
        except Exception:
            continue  # pygrowup treats age 0 as missing
        _quietly(obs.lhfa, length, recumbent=measure[i] == "l")
        _quietly(obs.wfa, weight)
        _quietly(obs.wfl if age < 731 else obs.wfh, weight, length)
    return time.perf_counter() - start


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--baseline-rows", type=int, default=20_000)
    args = parser.parse_args(argv)

    print(f"cores: {os.cpu_count()}  numpy {np.__version__}  pandas {pd.__version__}")
    compute_zscores(1, 100, 8.0, 70.0, "l")  # load the tables outside the timings
    rates = {}
    for n in args.sizes:
        rows = make_rows(n)
        secs = time_vectorised(rows)
        rates[n] = n / secs
        print(f"vectorised  n={n:>11,}  best of 3: {secs:7.3f} s  {rates[n]:>13,.0f} rows/s")
        secs_1t = time_vectorised(rows, repeats=1, n_threads=1)
        print(f"            n={n:>11,}  one thread: {secs_1t:7.3f} s  {n / secs_1t:>13,.0f} rows/s")
        rows_obj = dict(rows, measure=np.asarray(rows["measure"].astype(object)))
        secs_obj = time_vectorised(rows_obj, repeats=1)
        print(
            f"            n={n:>11,}  measure as object strings: {secs_obj:7.3f} s  {n / secs_obj:>13,.0f} rows/s"
        )
        del rows, rows_obj

    sample_rows = make_rows(args.baseline_rows, seed=7)
    secs = time_pygrowup(sample_rows, args.baseline_rows)
    base_rate = args.baseline_rows / secs
    print(
        f"pygrowup.Observation per row (HAZ+WAZ+WHZ), sample n={args.baseline_rows:,}: {secs:.2f} s "
        f"{base_rate:>11,.0f} rows/s; extrapolated to 10M rows: {10_000_000 / base_rate / 60:.1f} min"
    )
    for n, rate in rates.items():
        print(f"ratio vectorised/pygrowup at n={n:,}: {rate / base_rate:,.0f}x")


if __name__ == "__main__":
    main()
