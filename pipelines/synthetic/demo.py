"""`konvergensi demo`: generate small demo submissions, serve the village streams through a real
portal on loopback, drop the regency and OPD streams in a landing folder, and run the job."""

from __future__ import annotations

import os
import secrets
import shutil
import time
from pathlib import Path

from pipelines import settings

PORTAL_STREAMS = ("child_measurements", "households", "village_scorecard")


def run_demo(root: Path) -> bool:
    from pipelines.runs.inprocess import run_pipeline
    from pipelines.synthetic.generate import generate
    from pipelines.synthetic.portal_server import make_server

    started = time.perf_counter()
    if root.exists():
        shutil.rmtree(root)
    generated = root / "generated"
    generate(generated, scale="small", seed=7)
    portal_dir, landing_dir = root / "portal", root / "landing"
    portal_dir.mkdir(parents=True)
    landing_dir.mkdir(parents=True)
    for stream_dir in sorted(p for p in generated.iterdir() if p.is_dir()):
        target = portal_dir if stream_dir.name in PORTAL_STREAMS else landing_dir
        shutil.move(str(stream_dir), str(target / stream_dir.name))
    print(f"demo: generated submissions in {generated} ({time.perf_counter() - started:.1f} s)")

    # The demo starts from an empty warehouse so that it is reproducible.
    settings.apply_env_defaults()
    from pipelines.resources import WarehouseResource

    warehouse = WarehouseResource(path=os.environ.get("KONVERGENSI_WAREHOUSE", ""))
    for path in (warehouse.work_path, warehouse.work_path.with_name(warehouse.work_path.name + ".wal")):
        if path.exists():
            path.unlink()

    token = secrets.token_urlsafe(16)
    server = make_server(portal_dir, host="127.0.0.1", port=0, token=token).start_in_thread()
    try:
        os.environ.update(
            {
                "KONVERGENSI_PORTAL_URL": server.base_url,
                "KONVERGENSI_PORTAL_TOKEN": token,
                "KONVERGENSI_LANDING_DIR": str(landing_dir),
                "KONVERGENSI_REGION_MASTER": str(generated / "region_master.csv"),
                "KONVERGENSI_PSEUDONYM_KEY": settings.DEMO_PSEUDONYM_KEY,
            }
        )
        print(
            "demo: pseudonymising with the PUBLISHED DEMO KEY (settings.DEMO_PSEUDONYM_KEY); "
            "set KONVERGENSI_PSEUDONYM_KEY to a secret for real data."
        )
        print(f"demo: portal on {os.environ['KONVERGENSI_PORTAL_URL']} serves {', '.join(PORTAL_STREAMS)}; "
              f"landing folder {landing_dir} holds the regency and OPD streams")
        summary = run_pipeline()
    finally:
        server.stop()
    print(f"demo: total {time.perf_counter() - started:.1f} s")
    return summary.success
