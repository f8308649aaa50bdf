"""Dagster executor overhead: ``in_process_executor`` vs the default ``multiprocess_executor``.

A job of ten trivial assets (each returns a number; no I/O beyond Dagster's own) is run both ways
against a throw-away instance in a temporary DAGSTER_HOME, a few times each. The figures are
wall-clock seconds per run and per step, so they measure only what each executor costs.

    .venv/bin/python benchmarks/bench_executor.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg

N_ASSETS = 10
# Quiet console logs: the figures are the point, and printing costs the same in both executors.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _trivial_asset(i: int) -> dg.AssetsDefinition:
    @dg.asset(name=f"trivial_{i:02d}", group_name="bench")
    def trivial() -> int:
        return i

    return trivial


ASSETS = [_trivial_asset(i) for i in range(N_ASSETS)]
DEFS = dg.Definitions(
    assets=ASSETS, jobs=[dg.define_asset_job("bench", selection=dg.AssetSelection.groups("bench"))]
)


def bench_job() -> dg.JobDefinition:
    """The job with Dagster's default executor (multiprocess); module-level for reconstructable."""
    return DEFS.resolve_job_def("bench")


def _in_process_materialize(instance: dg.DagsterInstance) -> bool:
    return dg.materialize(ASSETS, instance=instance, run_config=QUIET).success


def _in_process_job(instance: dg.DagsterInstance) -> bool:
    return bench_job().execute_in_process(instance=instance, run_config=QUIET).success


def _multiprocess(instance: dg.DagsterInstance) -> bool:
    with dg.execute_job(dg.reconstructable(bench_job), instance=instance, run_config=QUIET) as result:
        return result.success


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_executor_") as home:
        Path(home, "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        os.environ["DAGSTER_HOME"] = home
        modes = {
            "in_process (dagster.materialize)": _in_process_materialize,
            "in_process (job.execute_in_process)": _in_process_job,
            "multiprocess (execute_job(reconstructable))": _multiprocess,
        }
        timings: dict[str, list[float]] = {name: [] for name in modes}
        with dg.DagsterInstance.get() as instance:
            _in_process_materialize(instance)  # warm-up: imports, instance storage creation
            for _ in range(args.repeats):
                for name, run in modes.items():
                    started = time.perf_counter()
                    if not run(instance):
                        print(f"{name}: run failed", file=sys.stderr)
                        return 1
                    timings[name].append(time.perf_counter() - started)
    print(
        f"{N_ASSETS} trivial assets, {args.repeats} runs each, {os.cpu_count()} CPUs, dagster {dg.__version__}"
    )
    print(f"{'executor':<46} {'s/run (median)':>15} {'s/step':>8}")
    baseline = statistics.median(next(iter(timings.values())))
    for name, values in timings.items():
        median = statistics.median(values)
        print(f"{name:<46} {median:>15.2f} {median / N_ASSETS:>8.3f}   x{median / baseline:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
