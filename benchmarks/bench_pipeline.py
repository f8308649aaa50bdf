"""The whole nightly job on one month of generated submissions, stage by stage, against the
analyst's baseline (pandas + a per-row WHO z-score package) on the same data, in one run.

    python benchmarks/bench_pipeline.py [--scale banten|national|small] [--data DIR] [--baseline-rows N]
                                        [--baseline-files N] [--keep]

1. Generate one month (2024-08) of submissions at the scale (reused when ``--data`` holds them):
   ``banten`` (1,552 villages, about 1.8 M rows) or ``national`` (82,256 villages in 53
   provinces, about 41 M rows; see pipelines/synthetic/generate.py).
2. ``konvergensi run --period 2024-08`` on a fresh warehouse (a real Dagster run, in-process
   executor, recorded in its own DAGSTER_HOME), then print per stage: wall time, rows, rows/s,
   and the run's peak RSS, the DuckDB file sizes and Dagster's overhead share.
3. A second `konvergensi run` of the current month with nothing new (what a quiet night costs: the
   quiet-night check, which starts no run; the line it printed is shown).
4. The baseline on the same files: pandas reads every e-PPGBM file (read_csv / read_excel per
   file, concat), then pygrowup scores rows one by one; the per-row part is timed on a sample
   and extrapolated linearly (it is ~3,000 rows/s; all rows would take minutes). At national
   scale pandas reads an evenly spaced sample of files too (``--baseline-files``), extrapolated
   by rows.

Peak memory is the largest sum of RSS over the run's process tree (main process plus ingestion
workers), sampled every 0.5 s from /proc, and the largest single process (getrusage).

Dagster's overhead is measured, not assumed: an empty in-process job with as many steps as the
real run gives the per-step framework cost, and run wall - sum of step times is the time
between steps.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PERIOD = "2024-08"

# The Python asset checks' steps (pipelines/checks): each is named after its asset's step and the
# check. The YAML tests of a SQL model run in the model's own step (pipelines/assets/sql.py).
PYTHON_CHECKS = ("export_zscores_agree_with_recomputed", "haz_sd_per_regency_plausible", "height_digit_preference_acceptable",
                 "submissions_on_time", "landed_rows_equal_staged_plus_superseded", "submissions_meet_expectations",
                 "every_file_lands_at_least_half_its_rows", "every_source_row_accounted_for",
                 "no_submission_mostly_unparseable", "who_tables_complete")


def _python_check(k: str) -> bool:
    return any(k.endswith("_" + name) for name in PYTHON_CHECKS)


STAGES = [
    ("ingest (read, parse, pseudonymise, GX, land)", lambda k: k == "ingest_submissions"),
    ("z-scores (WHO 2006)", lambda k: k == "staging__stg_child_zscores"),
    ("SQL models and their YAML tests", lambda k: k != "staging__stg_child_zscores" and k.split("__")[0] in ("staging", "marts", "quarantine", "reference", "raw")
     and "__" in k and not _python_check(k)),
    ("Python asset checks", _python_check),
    ("publish (copy as DuckDB 1.4, parquet)", lambda k: k == "publish__warehouse_file"),
    ("quality report", lambda k: k == "reports__quality_report"),
]


def _env(work: Path, data: Path, name: str) -> dict:
    home = work / f"home_{name}"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "KONVERGENSI_WAREHOUSE": str(work / "wh" / "banten.duckdb"),
        "KONVERGENSI_LANDING_DIR": str(data),
        "KONVERGENSI_REGION_MASTER": str(data / "region_master.csv"),
        "KONVERGENSI_PSEUDONYM_KEY": "bench-key-not-secret-0123456789abcdef",
        "KONVERGENSI_PORTAL_URL": "",
        "KONVERGENSI_LOG_LEVEL": "ERROR",
    }


TICK = os.sysconf("SC_CLK_TCK")
SEEN: collections.Counter = collections.Counter()  # samples in which each descendant was alive


def _tree_rss(root: int, each: dict | None = None) -> tuple[int, float]:
    """(bytes of RSS of ``root`` and all its descendants, CPU seconds ``root`` itself has used)
    (Linux /proc); ``each`` keeps every descendant's peak RSS, parent and CPU seconds including its
    own finished children (pid -> (bytes, parent pid, seconds)), the root excluded."""
    parents, rss, cpu = {}, {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            parents[int(entry)] = int(fields[1])
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
            cpu[int(entry)] = [int(x) / TICK for x in fields[11:15]]  # utime stime cutime cstime
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        if each is not None and pid != root:
            SEEN[pid] += 1
            each[pid] = (max(each.get(pid, (0, 0, 0))[0], rss.get(pid, 0)), parents.get(pid, 0),
                         sum(cpu.get(pid, [0.0])))
        todo.extend(p for p, parent in parents.items() if parent == pid)
    return total, sum(cpu.get(root, [0.0, 0.0])[:2])


def _busy_cpu_s() -> float:
    """CPU seconds the whole machine has spent busy (all cores, /proc/stat: not idle nor iowait)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / TICK


def _busy_cores(windows: list[tuple[float, float]], samples: list[tuple]) -> float | None:
    """Average cores busy (machine-wide) over the windows, from the samples inside each."""
    busy = span = 0.0
    for start, end in windows:
        inside = [(t, b) for t, _, _, b in samples if start <= t <= end]
        if len(inside) > 1:
            busy += inside[-1][1] - inside[0][1]
            span += inside[-1][0] - inside[0][0]
    return busy / span if span else None


def _print_timeline(steps: list[tuple], samples: list[tuple]) -> None:
    """Second by second from the command's start: machine cores busy, and the step(s) running."""
    if len(samples) < 2:
        return
    t0 = samples[0][0]
    print("timeline (s from the command's first sample: cores busy, steps running)")
    for second in range(int(samples[-1][0] - t0) + 1):
        busy = _busy_cores([(t0 + second, t0 + second + 1)], samples)
        running = sorted({key for key, _, start, end in steps if start < t0 + second + 1 and end > t0 + second})
        print(f"  {second:4d} {(f'{busy:.2f}' if busy is not None else '-'):>5}  {', '.join(running)[:100]}")


def _run(env: dict, period: str, said: list | None = None,
         samples: list | None = None, children: dict | None = None) -> tuple[float, float, float]:
    """(wall seconds, peak summed RSS GB of the run's process tree, peak RSS GB of one process);
    ``said`` receives the command's first line of output, ``samples`` every (epoch seconds,
    tree RSS bytes, the run process's CPU seconds, the machine's busy CPU seconds) sampled, ``children`` each descendant's peak RSS
    bytes, parent and CPU seconds by pid."""
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "run", "--period", period], env=env,
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak_tree = [0]

    def sample() -> None:
        while proc.poll() is None:
            rss, root_cpu = _tree_rss(proc.pid, children)
            peak_tree[0] = max(peak_tree[0], rss)
            if samples is not None:
                samples.append((time.time(), rss, root_cpu, _busy_cpu_s()))
            time.sleep(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t
    sampler.join()
    if proc.returncode != 0:
        print(stdout[-3000:], stderr[-3000:])
        raise SystemExit(f"run of {period} failed")
    if said is not None:
        said.append((stdout.strip().splitlines() or [""])[0])
    single = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 / 1024
    return wall, peak_tree[0] / 1e9, single


def _step_stats(env: dict) -> tuple[list[tuple[str, float]], float, dict]:
    code = """
import json, sys
from dagster import DagsterInstance
i = DagsterInstance.get()
run = i.get_runs(limit=1)[0]
stats = i.get_run_step_stats(run.run_id)
rs = i.get_run_stats(run.run_id)
steps = [(s.step_key, s.end_time - s.start_time, s.start_time, s.end_time) for s in stats if s.end_time]
mats = {}
for rec in i.get_records_for_run(run.run_id, of_type=__import__("dagster").DagsterEventType.ASSET_MATERIALIZATION).records:
    m = rec.event_log_entry.dagster_event.event_specific_data.materialization
    rc = m.metadata.get("row_count")
    if rc is not None:
        mats["__".join(m.asset_key.path)] = rc.value
print(json.dumps({"steps": steps, "wall": rs.end_time - rs.start_time, "rows": mats}))
"""
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout
    data = json.loads(out.strip().splitlines()[-1])
    return [tuple(s) for s in data["steps"]], data["wall"], data["rows"]


def _peak_by_stage(steps: list[tuple], samples: list[tuple]) -> dict[str, float]:
    """Peak tree RSS (GB) sampled while each stage's steps ran (a step's own window)."""
    out: dict[str, float] = {}
    for label, match in STAGES:
        windows = [(start, end) for key, _, start, end in steps if match(key)]
        peak = max((rss for t, rss, _, _ in samples for start, end in windows if start <= t <= end), default=0)
        out[label] = peak / 1e9
    return out


def _empty_step_cost(n_steps: int) -> float:
    """Seconds of Dagster framework per step: an in-process job of n trivial assets."""
    import dagster as dg

    assets = []
    for i in range(n_steps):
        deps = [f"a{i - 1}"] if i else []

        @dg.asset(name=f"a{i}", deps=deps)
        def _a() -> None:
            return None

        assets.append(_a)
    job = dg.define_asset_job("empty", executor_def=dg.in_process_executor)
    defs = dg.Definitions(assets=assets, jobs=[job])
    with dg.instance_for_test() as instance:
        t = time.perf_counter()
        defs.resolve_job_def("empty").execute_in_process(
            instance=instance, run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
        )
        return (time.perf_counter() - t) / n_steps


def _sizes(work: Path) -> tuple[float, float]:
    wh = work / "wh"
    return ((wh / "work" / "banten.duckdb").stat().st_size / 1e6, (wh / "banten.duckdb").stat().st_size / 1e6)


def _baseline(data: Path, sample: int, max_files: int | None, total_rows: int) -> dict:
    """What an analyst would do: pandas per file, then a per-row z-score package. With
    ``max_files``, pandas reads an evenly spaced sample of the files and the time is
    extrapolated to ``total_rows``."""
    import numpy as np
    import pandas as pd

    from benchmarks.bench_zscores import time_pygrowup

    all_files = sorted((data / "child_measurements").glob("*"))
    files = all_files
    if max_files and len(all_files) > max_files:
        files = [all_files[int(i)] for i in np.linspace(0, len(all_files) - 1, max_files)]
    t = time.perf_counter()
    frames = []
    for f in files:
        if f.suffix == ".xlsx":
            # openpyxl, pandas' default engine today, named so pandas 3 does not warn on every workbook
            frames.append(pd.read_excel(f, dtype=str, engine="openpyxl"))
        else:
            frames.append(pd.read_csv(f, sep=None, engine="python", dtype=str, encoding_errors="replace"))
    df = pd.concat(frames, ignore_index=True)
    read_s = time.perf_counter() - t
    sampled = len(files) < len(all_files)
    if sampled:
        read_s *= total_rows / len(df)
    rng = np.random.default_rng(1)
    n = sample
    rows = {
        "sex": rng.integers(1, 3, n), "age_days": rng.integers(1, 1856, n),
        "weight_kg": np.round(rng.uniform(3, 20, n), 1), "lenhei_cm": np.round(rng.uniform(50, 110, n), 1),
        "measure": pd.Series(np.where(rng.random(n) < 0.5, "l", "h")),
    }
    z_s = time_pygrowup(rows, n)
    per_row = z_s / n
    rows_all = total_rows if sampled else len(df)
    return {"rows": rows_all, "files": len(all_files), "sampled_files": len(files) if sampled else None,
            "read_s": read_s, "z_s_extrapolated": per_row * rows_all, "z_rate": n / z_s}


def _duckdb_read(data: Path, max_files: int | None) -> dict:
    """DuckDB's own read of the same submission files (issue 20's yardstick for ingestion): every
    CSV through ``read_csv`` (all VARCHAR, materialised), once with DuckDB's sniffer deciding the
    dialect (what it does with a file it is handed) and once told each file's delimiter and width
    (its floor: no sniffing); a Windows-1252 file is transcoded to UTF-8 first (DuckDB reads no
    cp1252). JSON through ``read_json``; XLSX through python-calamine, since DuckDB's excel
    extension cannot be installed without its download server. With ``max_files``, an evenly
    spaced sample per stream, extrapolated by rows."""
    import duckdb
    import numpy as np
    from python_calamine import CalamineWorkbook

    files = []
    for stream_dir in sorted(p for p in data.iterdir() if p.is_dir() and not p.name.startswith("_")):
        found = sorted(f for f in stream_dir.iterdir() if f.suffix in (".csv", ".json", ".xlsx"))
        if max_files and len(found) > max_files // 7:
            k = max(1, max_files // 7)
            found = [found[int(i)] for i in np.linspace(0, len(found) - 1, k)]
        files += found
    con = duckdb.connect()
    tmp = Path(tempfile.mkdtemp(prefix="bench-duckdb-read-"))
    out = {}
    for mode in ("sniffed", "told"):
        rows, t = 0, time.perf_counter()
        for f in files:
            if f.suffix == ".xlsx":
                rows += max(len(CalamineWorkbook.from_path(str(f)).get_sheet_by_index(0).to_python()) - 1, 0)
                continue
            path = f
            if f.suffix == ".csv":
                raw = f.read_bytes()
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    path = tmp / f.name
                    try:
                        raw = raw.decode("cp1252").encode("utf-8")
                    except UnicodeDecodeError:
                        continue  # not text in either encoding: the pipeline refuses it too
                    path.write_bytes(raw)
                options = "all_varchar = true"
                if mode == "told":
                    header = raw.split(b"\n", 1)[0].lstrip(b"\xef\xbb\xbf").rstrip(b"\r").decode("utf-8")
                    delim = max(";,\t|", key=header.count)
                    width = header.count(delim) + 1
                    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width)) + "}"
                    options = (f"auto_detect = false, header = true, delim = '{delim}', quote = '\"', "
                               f"escape = '\"', columns = {columns}, strict_mode = false, null_padding = true")
                reader = f"read_csv('{path}', {options})"
            else:
                reader = f"read_json('{path}')"
            try:
                con.execute(f"create or replace temp table t as select * from {reader}")
                rows += con.execute("select count(*) from t").fetchone()[0]
            except duckdb.Error:
                pass  # a file DuckDB cannot read at all counts its time, not its rows
        out[mode] = time.perf_counter() - t
        out["rows"] = rows
    shutil.rmtree(tmp, ignore_errors=True)
    out["files"] = len(files)
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="banten", choices=["small", "banten", "national"])
    parser.add_argument("--data", default=None, help="generated submissions to reuse (or where to keep them)")
    parser.add_argument("--baseline-rows", type=int, default=30_000, help="rows scored one by one (sample)")
    parser.add_argument("--baseline-files", type=int, default=None,
                        help="e-PPGBM files pandas reads (sample, extrapolated); default all, national 3000")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark warehouse (national: ~20 GB)")
    parser.add_argument("--workers", type=int, default=None,
                        help="ingestion workers (KONVERGENSI_INGEST_WORKERS; default one per core)")
    parser.add_argument("--timeline", action="store_true",
                        help="also print, second by second, the cores busy and the step running")
    parser.add_argument("--run-only", action="store_true",
                        help="the run and the quiet night only: no DuckDB read or pandas baseline")
    args = parser.parse_args(argv)
    if args.workers is not None:
        os.environ["KONVERGENSI_INGEST_WORKERS"] = str(args.workers)
    if args.baseline_files is None and args.scale == "national":
        args.baseline_files = 3000

    from pipelines.settings import ingest_workers
    from pipelines.synthetic.generate import generate

    work = Path(tempfile.mkdtemp(prefix=f"bench-pipeline-{args.scale}-"))
    data = Path(args.data) if args.data else work / "submissions"
    if not (data / "region_master.csv").exists():
        t = time.perf_counter()
        generate(data, scale=args.scale, seed=7, workers=os.cpu_count() or 1)
        print(f"generated {args.scale} submissions in {time.perf_counter() - t:.1f} s")
    print(f"cores: {os.cpu_count()}  ingest workers: {ingest_workers()}  data: {data}")
    try:
        _bench(args, work, data)
    finally:
        if not args.keep:
            shutil.rmtree(work / "wh", ignore_errors=True)


def _speed_probe() -> float:
    """Seconds a fixed single-core task takes (the best of three): this machine's speed varies by
    ±30 % from hour to hour, so each run prints it before and after, to be read beside the figures."""
    import hashlib

    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        total = 0
        for i in range(8_000_000):
            total += i % 7
        hashlib.sha256(bytes(128 << 20)).digest()
        best = min(best, time.perf_counter() - t)
    return best


# The probe on this 2-core machine at its usual speed (measured 2026-12-02 01:35 UTC).
PROBE_QUIET_S = 0.31


def _bench(args, work: Path, data: Path) -> None:
    env = _env(work, data, "run")
    samples: list = []
    children: dict = {}
    probe_before = _speed_probe()
    wall, peak, peak_one = _run(env, PERIOD, samples=samples, children=children)
    probe_after = _speed_probe()
    timed_steps, run_wall, rows = _step_stats(env)
    stage_peaks = _peak_by_stage(timed_steps, samples)
    steps = [(k, d) for k, d, _, _ in timed_steps]
    work_mb, pub_mb = _sizes(work)
    n_source = _source_rows(work)

    print(f"\n== full job, one month ({PERIOD}), {args.scale} scale ==")
    print(f"machine speed probe (a fixed one-core task): {probe_before:.2f} s before the run, {probe_after:.2f} s "
          f"after ({PROBE_QUIET_S:.2f} s when this machine runs at its usual speed; slower there, slower here)")
    print(f"{'stage':<44}{'steps':>6}{'wall s':>9}{'rows':>12}{'rows/s':>12}{'peak RSS GB':>13}{'cores busy':>12}")
    stage_rows = {
        "ingest": n_source, "z-scores": rows.get("staging__stg_child_zscores"),
        "SQL": rows.get("marts__fct_child_measurement"),
    }
    accounted = 0.0
    for label, match in STAGES:
        picked = [(k, d) for k, d in steps if match(k)]
        secs = sum(d for _, d in picked)
        accounted += secs
        n = next((v for key, v in stage_rows.items() if label.startswith(key)), None)
        rate = f"{n / secs:>12,.0f}" if n and secs else f"{'':>12}"
        busy = _busy_cores([(start, end) for key, _, start, end in timed_steps if match(key)], samples)
        print(f"{label:<44}{len(picked):>6}{secs:>9.1f}{(f'{n:,}' if n else ''):>12}{rate}"
              f"{stage_peaks[label]:>13.2f}{(f'{busy:.2f}' if busy is not None else ''):>12}")
    if getattr(args, "timeline", False):
        _print_timeline(timed_steps, samples)
        print("every step, slowest first (s, cores busy): " + ", ".join(
            f"{key} {secs:.2f} ({_busy_cores([(start, end)], samples) or 0:.1f})"
            for key, secs, start, end in sorted(timed_steps, key=lambda s: -s[1])))
    other = sum(d for _, d in steps) - accounted
    print(f"{'other steps':<44}{'':>6}{other:>9.1f}")
    by_step = sorted(((max((r for t, r, _, _ in samples if start <= t <= end), default=0), key)
                      for key, _, start, end in timed_steps), reverse=True)[:3]
    print("largest steps by peak RSS: " + ", ".join(f"{key} {rss / 1e9:.2f} GB" for rss, key in by_step))
    slowest = sorted(steps, key=lambda s: -s[1])[:6]
    print("slowest steps: " + ", ".join(f"{key} {secs:.1f} s" for key, secs in slowest))
    per_step = _empty_step_cost(len(steps))
    between = run_wall - sum(d for _, d in steps)
    overhead = per_step * len(steps) + max(between, 0.0)
    print(f"\nrun wall (Dagster run)      {run_wall:8.1f} s   process wall incl. start-up and summary {wall:.1f} s")
    print(f"rows read                   {n_source:>10,}   end-to-end {n_source / wall:,.0f} rows/s")
    print(f"peak RSS                    {peak:8.2f} GB (run process + ingestion workers; largest single "
          f"process {peak_one:.2f} GB)")
    # The embedded Dask workers are the fork server's children (it is the run's child that has
    # children); their own children are workbook readers. A worker the nanny restarted counts apart.
    servers = {parent for _, parent, _ in children.values() if parent in children}
    servers = {pid for pid in servers if children[pid][1] not in children}
    workers = sorted((b for b, parent, _ in children.values() if parent in servers), reverse=True)
    print(f"peak RSS per ingestion worker {', '.join(f'{b / 1e9:.2f}' for b in workers) or '-'} GB "
          f"(the fork server they come from {max((children[p][0] for p in servers), default=0) / 1e9:.2f} GB)")
    # Where ingestion's CPU went: the run process (the single writer: list and read files, send
    # them, read the rows back, commit) against the workers (parse, pseudonymise, validate), over
    # the ingestion step's window. What a projection to more workers rests on (docs/deploy.md).
    ingest = [(start, end) for key, _, start, end in timed_steps if key == "ingest_submissions"]
    inside = [c for t, _, c, _ in samples for start, end in ingest if start <= t <= end]
    if len(inside) > 1:
        writer_cpu = inside[-1] - inside[0]
        worker_pids = {pid for pid, (_, parent, _) in children.items() if parent in servers}
        worker_cpu = sum(children[pid][2] for pid in worker_pids)
        # A worker's workbook-reader spawner (pipelines/parsing/isolated.py) lives as long as the
        # worker and reaps the readers: its CPU (theirs included) is the worker's. The readers a
        # worker forks itself are in the worker's own figure once reaped.
        worker_cpu += sum(c for pid, (_, parent, c) in children.items() if parent in worker_pids and SEEN[pid] >= 8)
        ingest_wall = sum(end - start for start, end in ingest)
        print(f"ingest CPU: run process (single writer) {writer_cpu:.1f} s = {100 * writer_cpu / ingest_wall:.0f} % "
              f"of the step's {ingest_wall:.1f} s; workers {worker_cpu:.1f} s in all "
              f"({worker_cpu / max(len(workers), 1):.1f} s each)")
    print(f"DuckDB working file         {work_mb:8.0f} MB   published (DuckDB 1.4 format) {pub_mb:.0f} MB")
    print(f"Dagster overhead            {overhead:8.1f} s = {100 * overhead / run_wall:.1f} % of the run "
          f"({len(steps)} steps x {per_step * 1000:.0f} ms framework + {max(between, 0):.1f} s between steps)")

    said: list = []
    quiet_wall, _, _ = _run(env, _current_month(), said)
    print(f"\nno new submissions (nightly on {_current_month()}): {quiet_wall:.1f} s")
    print(f"  it said: {said[0]}")

    ingest_s = sum(d for k, d in steps if k == "ingest_submissions")
    if args.run_only:
        print(f"\ningest {ingest_s:.1f} s with {os.environ.get('KONVERGENSI_INGEST_WORKERS') or 'default'} "
              f"workers; full job {wall:.1f} s ({wall / 60:.1f} min); comparisons skipped (--run-only)")
        return
    duck = _duckdb_read(data, args.baseline_files)
    scale = n_source / duck["rows"] if duck["rows"] else 1.0
    sniffed, told = duck["sniffed"] * scale, duck["told"] * scale
    print("\n== DuckDB's own read of the same files (CSV read_csv, JSON read_json; XLSX python-calamine) ==")
    sampled = " (sample, extrapolated by rows)" if scale > 1.01 else ""
    print(f"{duck['files']:,} files{sampled}: sniffed {sniffed:.1f} s, dialect told {told:.1f} s; "
          f"ingest {ingest_s:.1f} s = {ingest_s / sniffed:.2f}x sniffed, {ingest_s / told:.2f}x told "
          f"(target <= 3x)")

    base = _baseline(data, args.baseline_rows, args.baseline_files, _source_rows(work, "child_measurements"))
    base_total = base["read_s"] + base["z_s_extrapolated"]
    ours = sum(d for k, d in steps if k in ("ingest_submissions", "staging__stg_child_zscores"))
    print("\n== baseline on the same e-PPGBM files: pandas per file + pygrowup per row ==")
    how = (f"extrapolated from an evenly spaced sample of {base['sampled_files']:,} files"
           if base["sampled_files"] else "no pseudonymisation, no validation, no region resolution")
    print(f"pandas read of {base['files']:,} files, {base['rows']:,} rows: {base['read_s']:.1f} s ({how})")
    print(f"pygrowup per row: {base['z_rate']:,.0f} rows/s on a {args.baseline_rows:,}-row sample; "
          f"all rows extrapolated: {base['z_s_extrapolated']:.0f} s")
    print(f"baseline read + z-scores: {base_total:.0f} s  vs  this pipeline's full job {wall:.1f} s "
          f"(ratio {base_total / wall:.1f}x); its ingest + z-scores alone {ours:.1f} s (ratio {base_total / ours:.1f}x)")
    share = 100 * overhead / run_wall
    # Issue 20's targets (issue 8's were 60 s, 15 min and 15 s).
    if args.scale == "banten":
        print(f"\ntargets: Banten month end to end <= 30 s: {'met' if wall <= 30 else 'MISSED'} ({wall:.0f} s); "
              f"no-op nightly <= 10 s: {'met' if quiet_wall <= 10 else 'MISSED'} ({quiet_wall:.0f} s); "
              f"Dagster overhead <= 15 %: {'met' if share <= 15 else 'MISSED'} ({share:.1f} %); "
              f"ingest within 3x of DuckDB's read: {'met' if ingest_s <= 3 * told else 'MISSED'} "
              f"({ingest_s / told:.2f}x the dialect-told read, {ingest_s / sniffed:.2f}x the sniffed one)")
    elif args.scale == "national":
        print(f"\ntargets: national month <= 10 min: {'met' if wall <= 600 else 'MISSED'} ({wall / 60:.1f} min); "
              f"peak RSS <= 8 GB: {'met' if peak <= 8 else 'MISSED'} ({peak:.2f} GB); "
              f"no-op nightly <= 10 s: {'met' if quiet_wall <= 10 else 'MISSED'} ({quiet_wall:.0f} s)")


def _source_rows(work: Path, stream: str | None = None) -> int:
    import duckdb

    where = "where stream = ?" if stream else ""
    with duckdb.connect(str(work / "wh" / "work" / "banten.duckdb"), read_only=True) as con:
        return int(con.execute(f"select coalesce(sum(n_source_rows), 0) from raw.submissions {where}",
                               [stream] if stream else []).fetchall()[0][0])


def _current_month() -> str:
    from pipelines.periods import current_month

    return current_month()


if __name__ == "__main__":
    main()
