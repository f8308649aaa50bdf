"""`konvergensi demo`: generate small demo submissions, serve the village streams through a real
portal on loopback, drop the regency and OPD streams in a landing folder, and run the job.

The demo never touches a configured warehouse or Dagster instance: everything it writes lives in
its own folder (``--dir``, default ``demo_data/``), marked as a demo folder by a
:data:`MARKER` file. ``KONVERGENSI_WAREHOUSE`` and ``DAGSTER_HOME`` are overridden in the demo's
process only:

    demo_data/
      .konvergensi-demo       the marker: only a folder holding it is ever cleared
      generated/ portal/ landing/   the submissions
      warehouse/banten.duckdb the demo's published file (warehouse/work/ holds its working file)
      dagster_home/           the demo's Dagster instance (runs, event logs)

A re-run clears only the entries it creates (:data:`CREATED`), and the warehouse only while
holding that warehouse's run lock, so a run still writing it is never pulled from under it. A
folder that exists, is not empty and has no marker is refused: it is not the demo's to delete.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from pathlib import Path

from pipelines import settings

PORTAL_STREAMS = ("child_measurements", "households", "village_scorecard")
MARKER = ".konvergensi-demo"
CREATED = ("generated", "portal", "landing", "warehouse", "dagster_home")
WAREHOUSE_NAME = "banten.duckdb"


class DemoFolderError(RuntimeError):
    """The demo folder is not one the demo may clear."""


def demo_paths(root: Path) -> dict[str, Path]:
    """Where the demo keeps its warehouse (published file) and Dagster home."""
    return {"warehouse": root / "warehouse" / WAREHOUSE_NAME, "dagster_home": root / "dagster_home"}


def prepare_demo_folder(root: Path) -> None:
    """Make ``root`` an empty demo folder: create it with its marker, or clear what an earlier
    demo created there (under the demo warehouse's run lock); refuse a folder that is not a demo's."""
    from pipelines.resources import acquire_run_lock

    root = root.resolve()
    if root.exists() and not root.is_dir():
        raise DemoFolderError(f"{root} is not a folder; choose another --dir")
    if root.is_dir() and any(root.iterdir()) and not (root / MARKER).is_file():
        raise DemoFolderError(
            f"{root} is not empty and holds no {MARKER} marker: the demo clears only folders it created. "
            "Choose a new or empty --dir."
        )
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text("Created by `konvergensi demo`; the demo may clear this folder's demo entries.\n")
    lock_path = demo_paths(root)["warehouse"].parent / "work" / ".run.lock"
    lock = acquire_run_lock(lock_path, wait_s=0)  # a run still writing the demo warehouse: stop here
    try:
        for name in CREATED:
            _remove(root / name, keep=lock_path)
    finally:
        lock.close()


def _remove(entry: Path, keep: Path) -> None:
    """Delete ``entry`` (file, link or folder tree) except ``keep`` and the folders holding it."""
    if entry == keep:
        return
    if entry.is_dir() and not entry.is_symlink():
        if keep.is_relative_to(entry):
            for inner in entry.iterdir():
                _remove(inner, keep)
        else:
            shutil.rmtree(entry)
    elif entry.exists() or entry.is_symlink():
        entry.unlink()


def run_demo(root: Path) -> bool:
    from pipelines.runs.inprocess import run_pipeline
    from pipelines.synthetic.generate import generate
    from pipelines.synthetic.portal_server import make_server

    started = time.perf_counter()
    root = root.resolve()
    prepare_demo_folder(root)
    generated = root / "generated"
    generate(generated, scale="small", seed=7)
    portal_dir, landing_dir = root / "portal", root / "landing"
    portal_dir.mkdir(parents=True)
    landing_dir.mkdir(parents=True)
    for stream_dir in sorted(p for p in generated.iterdir() if p.is_dir()):
        target = portal_dir if stream_dir.name in PORTAL_STREAMS else landing_dir
        shutil.move(str(stream_dir), str(target / stream_dir.name))
    print(f"demo: generated submissions in {generated} ({time.perf_counter() - started:.1f} s)")

    paths = demo_paths(root)  # run_pipeline makes the Dagster home (ensure_dagster_home)
    for name, value in (("KONVERGENSI_WAREHOUSE", paths["warehouse"]), ("DAGSTER_HOME", paths["dagster_home"])):
        configured = os.environ.get(name, "")
        if configured and Path(configured).resolve() != value:
            print(f"demo: {name}={configured} is left alone; the demo uses {value}")
    token = secrets.token_urlsafe(16)
    server = make_server(portal_dir, host="127.0.0.1", port=0, token=token).start_in_thread()
    saved = {name: os.environ.get(name) for name in (*settings.ENV_DEFAULTS, "DAGSTER_HOME", settings.DEMO_MODE_ENV)}
    try:
        os.environ.update(
            {
                "KONVERGENSI_WAREHOUSE": str(paths["warehouse"]),
                "DAGSTER_HOME": str(paths["dagster_home"]),
                "KONVERGENSI_PORTAL_URL": server.base_url,
                "KONVERGENSI_PORTAL_TOKEN": token,
                "KONVERGENSI_LANDING_DIR": str(landing_dir),
                "KONVERGENSI_REGION_MASTER": str(generated / "region_master.csv"),
                "KONVERGENSI_PSEUDONYM_KEY": settings.DEMO_PSEUDONYM_KEY,
                settings.DEMO_MODE_ENV: "1",
            }
        )
        print(
            "demo: pseudonymising with the PUBLISHED DEMO KEY (settings.DEMO_PSEUDONYM_KEY), accepted only "
            "inside the demo; real data needs a secret KONVERGENSI_PSEUDONYM_KEY of 32 bytes or more."
        )
        print(f"demo: portal on {os.environ['KONVERGENSI_PORTAL_URL']} serves {', '.join(PORTAL_STREAMS)}; "
              f"landing folder {landing_dir} holds the regency and OPD streams")
        summary = run_pipeline()
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    print(f"demo: total {time.perf_counter() - started:.1f} s")
    return summary.success
