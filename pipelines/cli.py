"""``konvergensi``: a thin command line over the same Dagster definitions (never a second path).

    konvergensi generate --out DIR --scale {small,banten} --seed N
    konvergensi run [--period YYYY-MM | --from YYYY-MM --to YYYY-MM] [--force]
    konvergensi demo [--dir DIR]
    konvergensi portal --data DIR --port N [--host H]   (token: KONVERGENSI_PORTAL_TOKEN)
    konvergensi zscores IN.csv OUT.csv
    konvergensi rollback [--list] [--to NAME]
    konvergensi rotate-key --operator NAME --reason TEXT
    konvergensi set-aside [--undo] SUBMISSION_ID --operator NAME --reason TEXT

Every command first reads ``.env`` from the working directory, as `dagster dev` does
(pipelines/envfile.py); variables already set in the environment win.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import time
from pathlib import Path

from pipelines import settings


def _period(value: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a month like 2024-08")
    return value


def cmd_generate(args) -> int:
    from pipelines.synthetic.generate import generate

    started = time.perf_counter()
    summary = generate(Path(args.out), scale=args.scale, seed=args.seed)
    print(f"generated {args.scale} demo submissions in {args.out} ({time.perf_counter() - started:.1f} s)")
    for stream, counts in summary.items():
        if isinstance(counts, dict):
            print(f"  {stream:<20} {counts.get('files', 0):>6} files {counts.get('rows', 0):>10} rows")
    return 0


def cmd_run(args) -> int:
    start, end = args.start, args.end
    if args.period:
        if start or end:
            print("konvergensi run: give --period or --from/--to, not both", file=sys.stderr)
            return 2
        start = end = args.period
    if start and end and start > end:
        print(f"konvergensi run: --from {start} is after --to {end}", file=sys.stderr)
        return 2
    from_date_only = False
    # The ingestion workers' fork server imports Great Expectations (3.3 s of one core) on the other
    # core while this process checks the night and loads the definitions: started after the check,
    # it was still importing when ingestion began (the first batch waited 2.1 s for its workers). On a
    # quiet night the command ends it unused (_finish); the night then took 0.3 s longer (2.1 -> 2.4 s
    # on a Banten warehouse, the server's start beside the check), against 1.8 s saved in every run.
    settings.apply_env_defaults()
    from pipelines.ingestion.embedded import warm_up

    warm_up()
    if not args.force:
        from pipelines.runs.startup import long_lived

        with long_lived():  # the night check imports what the run then uses
            night = _night_check(start, end)
        if night.quiet:
            print(f"konvergensi run: {night.message()}; no run started (--force runs anyway)")
            return 0
        from_date_only = night.only_date
        if from_date_only:
            print(f"konvergensi run: {night.span()}: nothing new; the as-of date changed: refreshing only "
                  "the marts that read it (--force rebuilds everything)", file=sys.stderr)
        else:
            print(f"konvergensi run: {night.message()}", file=sys.stderr)
    from pipelines.runs.inprocess import run_pipeline

    return 0 if run_pipeline(start, end, as_of_only=from_date_only).success else 1


def _night_check(start: str | None, end: str | None):
    """What a run over the months would change (:mod:`pipelines.quiet`), read without loading
    Dagster's definitions (seconds) and without writing anything."""
    from dagster import DagsterInstance

    from pipelines.partitions import latest_month
    from pipelines.periods import FIRST_MONTH, months_between
    from pipelines.quiet import night_check
    from pipelines.runs.inprocess import ensure_dagster_home

    ensure_dagster_home()
    with DagsterInstance.get() as instance:
        return night_check(months_between(start or FIRST_MONTH, end or latest_month()), instance)


def cmd_demo(args) -> int:
    from pipelines.resources import WarehouseBusyError
    from pipelines.synthetic.demo import DemoFolderError, run_demo

    try:
        return 0 if run_demo(Path(args.dir)) else 1
    except (DemoFolderError, WarehouseBusyError) as exc:
        print(f"konvergensi demo: {exc}", file=sys.stderr)
        return 2


@contextlib.contextmanager
def _locked_warehouse():
    """The working warehouse, under its run lock for the whole command (no wait: a run writing it
    stops the command with WarehouseBusyError, naming the holder)."""
    from pipelines.resources import WarehouseResource, acquire_run_lock

    settings.apply_env_defaults()
    warehouse = WarehouseResource(path=settings.env_value("KONVERGENSI_WAREHOUSE"))
    lock = acquire_run_lock(warehouse.work_path.parent / ".run.lock", wait_s=0)
    try:
        with warehouse.connect() as con:
            yield con
    finally:
        lock.close()


def cmd_rotate_key(args) -> int:
    """Start a new pseudonym-key lineage with the key now in KONVERGENSI_PSEUDONYM_KEY."""
    from pipelines.ingestion.keys import PseudonymKeyError, start_lineage
    from pipelines.resources import PseudonymResource, WarehouseBusyError

    try:
        # the key passes the same checks ingestion applies (pipelines.ingestion.keys.check_key)
        pseudonymiser = PseudonymResource(key=os.environ.get("KONVERGENSI_PSEUDONYM_KEY", "")).pseudonymiser()
        with _locked_warehouse() as con:
            lineage = start_lineage(con, pseudonymiser.key_fingerprint(), args.operator, args.reason)
    except (PseudonymKeyError, WarehouseBusyError) as exc:
        print(f"konvergensi rotate-key: {exc}", file=sys.stderr)
        return 2
    print(f"pseudonym key lineage {lineage} started by {args.operator}: ids from now on do not link to earlier ones")
    return 0


def cmd_set_aside(args) -> int:
    """Set one submission aside (``--undo``: re-include it): the next run publishes without it."""
    from pipelines.ingestion.exclusions import SetAsideError, record_decision
    from pipelines.periods import period_months
    from pipelines.resources import WarehouseBusyError

    try:
        with _locked_warehouse() as con:
            decision = record_decision(con, args.submission_id, args.reason, args.operator, undo=args.undo)
    except (SetAsideError, WarehouseBusyError) as exc:
        print(f"konvergensi set-aside: {exc}", file=sys.stderr)
        return 2
    print(decision.summary())
    months = period_months(decision.period) if decision.period else []
    if months:
        span = f"--period {months[0]}" if len(months) == 1 else f"--from {months[0]} --to {months[-1]}"
        print(f"then rebuild its months and publish: konvergensi run {span}")
    return 0


def cmd_portal(args) -> int:
    from pipelines.synthetic.portal_server import ARGV_TOKEN_REFUSED, serve

    if args.token is not None:
        print(f"konvergensi portal: {ARGV_TOKEN_REFUSED}", file=sys.stderr)
        return 2
    token = os.environ.get("KONVERGENSI_PORTAL_TOKEN", "")
    if not token:
        print("konvergensi portal: set KONVERGENSI_PORTAL_TOKEN", file=sys.stderr)
        return 2
    serve(Path(args.data), args.port, token, host=args.host)
    return 0


def cmd_zscores(args) -> int:
    from pipelines.growth.batch import zscores_csv

    try:
        n = zscores_csv(Path(args.input), Path(args.output))
    except (ValueError, OSError) as exc:
        print(f"konvergensi zscores: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {n} rows to {args.output}")
    return 0


def cmd_rollback(args) -> int:
    from pipelines.publishing.rollback import RollbackError, format_versions, rollback

    published = settings.resolve_path(settings.env_value("KONVERGENSI_WAREHOUSE"))
    if args.list:
        print(format_versions(published))
        return 0
    try:
        result = rollback(published, to=args.to)
    except RollbackError as exc:
        print(f"konvergensi rollback: {exc}", file=sys.stderr)
        return 2
    kept = f"; the replaced file is kept as {result.kept_as}" if result.kept_as else ""
    print(f"published {result.restored} as {published}{kept}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="konvergensi", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write deterministic synthetic submissions (a landing folder)")
    gen.add_argument("--out", required=True)
    gen.add_argument("--scale", choices=["small", "banten"], default="small")
    gen.add_argument("--seed", type=int, default=7)
    gen.set_defaults(func=cmd_generate)

    run = sub.add_parser(
        "run", help="materialise the nightly job in-process for a range of months (default: all) and print a summary"
    )
    run.add_argument("--period", type=_period, default=None,
                     help="one month partition: land its submissions (and its quarter's and year's), rebuild it")
    run.add_argument("--from", dest="start", type=_period, default=None, help="first month (default: the first partition)")
    run.add_argument("--to", dest="end", type=_period, default=None, help="last month (default: this month)")
    run.add_argument("--force", action="store_true",
                     help="run even when nothing new arrived and nothing changed since the last publish")
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser("demo", help="generate small demo data, serve part of it on a local portal, run")
    demo.add_argument("--dir", default=str(settings.PROJECT_ROOT / "demo_data"))
    demo.set_defaults(func=cmd_demo)

    rotate = sub.add_parser(
        "rotate-key", help="accept a new KONVERGENSI_PSEUDONYM_KEY on purpose: start a new pseudonym lineage"
    )
    rotate.add_argument("--operator", required=True, help="who changes the key (recorded)")
    rotate.add_argument("--reason", required=True, help="why (recorded)")
    rotate.set_defaults(func=cmd_rotate_key)

    aside = sub.add_parser(
        "set-aside", help="set one landed submission aside (or re-include it with --undo): the rest publishes"
    )
    aside.add_argument("submission_id", help="the submission's id (failed check's metadata, quality report)")
    aside.add_argument("--undo", action="store_true", help="re-include a submission set aside earlier")
    aside.add_argument("--operator", required=True, help="who decides (recorded)")
    aside.add_argument("--reason", required=True, help="why (recorded)")
    aside.set_defaults(func=cmd_set_aside)

    portal = sub.add_parser("portal", help="serve a submissions folder with the portal API contract")
    portal.add_argument("--data", required=True)
    portal.add_argument("--port", type=int, default=8765)
    portal.add_argument("--token", help=argparse.SUPPRESS)  # refused without echoing it: see cmd_portal
    portal.add_argument("--host", default="127.0.0.1")
    portal.set_defaults(func=cmd_portal)

    zs = sub.add_parser("zscores", help="WHO 2006 z-scores for a CSV (sex, age_days, weight_kg, lenhei_cm, measure)")
    zs.add_argument("input")
    zs.add_argument("output")
    zs.set_defaults(func=cmd_zscores)

    rb = sub.add_parser("rollback", help="list kept published warehouse files or put one back (default: newest)")
    rb.add_argument("--to", default=None, help="kept file name to restore (see --list)")
    rb.add_argument("--list", action="store_true", help="list kept versions (name, time, size) and exit")
    rb.set_defaults(func=cmd_rollback)
    return parser


def main(argv: list[str] | None = None) -> int:
    from pipelines.envfile import load_env_file

    args = build_parser().parse_args(argv)
    # The .env `dagster dev` reads, from the same working directory (the shell's values win).
    load_env_file()
    return args.func(args)


def _finish(code: int) -> None:
    """Leave the process without the interpreter's teardown, once everything is written.

    After a run, tearing the interpreter down (freeing the objects of Dagster's definitions,
    pandas, Arrow and Great Expectations one by one) took 1.2-1.4 s of a 40 s Banten run, with
    nothing left to write: DuckDB connections are closed and every Dagster event stored when the
    command returns. What the interpreter does before its teardown is done here, in its order:
    thread pools shut down and other threads joined, the exit handlers run (the embedded cluster's
    and multiprocessing's among them), logs and output flushed; then the process ends with the
    command's code.
    """
    import atexit  # noqa: PLC0415
    import logging  # noqa: PLC0415
    import threading  # noqa: PLC0415

    try:
        threading._shutdown()  # noqa: SLF001 - as at interpreter exit: pools' exit hooks, then joins
        atexit._run_exitfuncs()  # noqa: SLF001
        _stop_fork_server()
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def _stop_fork_server() -> None:
    """End the ingestion workers' fork server (pipelines/ingestion/engine.py) at once, its workers
    gone by now: left alone, it notices this process has gone and then tears its own interpreter
    down (Great Expectations, pandas: about a second), holding the command's output open meanwhile.
    SIGKILL ends it without that teardown (SIGTERM is not enough: a parent that ignores SIGTERM
    passes that on to it); it holds nothing to write and its workers are gone."""
    import signal  # noqa: PLC0415

    forkserver = sys.modules.get("multiprocessing.forkserver")
    pid = getattr(getattr(forkserver, "_forkserver", None), "_forkserver_pid", None)
    if not pid:
        return
    with contextlib.suppress(OSError):  # ChildProcessError: gone, or not ours to wait for
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 2.0  # it dies at once; reaped, it is gone when the command returns
        while not os.waitpid(pid, os.WNOHANG)[0] and time.monotonic() < deadline:
            time.sleep(0.005)


def entry() -> None:
    """The ``konvergensi`` command (and ``python -m pipelines.cli``): :func:`main`, then
    :func:`_finish`. Tests call :func:`main`, which returns."""
    code = main()
    _finish(code if isinstance(code, int) else 1)


if __name__ == "__main__":
    entry()
