"""The Dagster UI, rendered by a real headless Chromium, shows our asset graph and its checks.

A real `dagster-webserver` runs on a free loopback port with a throwaway DAGSTER_HOME, and
Chromium renders its pages with `--dump-dom` / `--screenshot` (no DevTools client needed: the
UI is client-side React, and `--virtual-time-budget` lets its GraphQL queries finish before the
DOM is dumped). Skips when no Chromium is installed (`.ci/install-chromium.sh` installs it).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.paths import ROOT_DIR

ROOT = ROOT_DIR
LOCATION = "banten_konvergensi"
SCREENSHOT = ROOT / "warehouse" / "reports" / "ui_asset_graph.png"
MARTS = ("fct_stunting_prevalence", "mart_target_progress", "dim_region")
SERVER_TIMEOUT_S = 120
CHROMIUM_TIMEOUT_S = 60
# Virtual time only advances while the page is idle, so 30 s of it costs a few real seconds
# but leaves the UI's GraphQL round trips and graph layout worker plenty of room.
VIRTUAL_TIME_MS = 30000
ATTEMPTS = 3
MIN_GRAPH_NODES = 2

pytestmark = pytest.mark.slow


def _chromium() -> str | None:
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """Stop a process started in its own session, with everything it spawned
    (the webserver's code server, Chromium's renderers)."""
    if proc.poll() is not None:
        return
    for sig, wait_s in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="module")
def chromium() -> str:
    binary = _chromium()
    if binary is None:
        pytest.skip("no chromium binary (run .ci/install-chromium.sh)")
    return binary


@pytest.fixture(scope="module")
def webserver(chromium, tmp_path_factory) -> Iterator[str]:
    """Base URL of a dagster-webserver serving workspace.yaml; always terminated."""
    tmp = tmp_path_factory.mktemp("dagster_ui")
    home = tmp / "dagster_home"
    home.mkdir()
    # nux off: otherwise a "Join the Dagster community" dialog covers the screenshot.
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\nnux:\n  enabled: false\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KONVERGENSI_")}
    env["DAGSTER_HOME"] = str(home)
    # Nothing is materialized here, but keep any accidental write away from the real warehouse.
    env["KONVERGENSI_WAREHOUSE"] = str(tmp / "wh" / "banten.duckdb")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp / "webserver.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "dagster-webserver"), "-w", "workspace.yaml",
             "-h", "127.0.0.1", "-p", str(port)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + SERVER_TIMEOUT_S
        while not _answers(f"{base}/server_info"):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-3000:]
                pytest.fail(f"dagster-webserver did not come up (exit={proc.poll()}):\n{tail}")
            time.sleep(0.5)
        yield base
    finally:
        _stop(proc)


def _run_chromium(
    chromium: str, tmp: Path, args: list[str], window: str = "1400,900", timeout_s: float = CHROMIUM_TIMEOUT_S
) -> subprocess.CompletedProcess:
    profile = tmp / f"profile_{time.monotonic_ns()}"
    cmd = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
        f"--user-data-dir={profile}", f"--virtual-time-budget={VIRTUAL_TIME_MS}",
        f"--window-size={window}", "--hide-scrollbars", *args,
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _stop(proc)
        out, err = proc.communicate()
    finally:
        _stop(proc)
        shutil.rmtree(profile, ignore_errors=True)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _rendered_dom(
    chromium: str, tmp: Path, url: str, ready: Callable[[str], bool], window: str = "1400,900"
) -> str:
    """The DOM after the UI's scripts ran. Re-rendered (like a browser test waiting for a
    selector) while `ready` says no, since a cold server can answer slowly; the caller asserts
    on what finally came back."""
    dom = ""
    for _ in range(ATTEMPTS):
        dom = _run_chromium(chromium, tmp, ["--dump-dom", url], window).stdout
        if ready(dom):
            break
    return dom


def _contains(*texts: str) -> Callable[[str], bool]:
    return lambda dom: all(text in dom for text in texts)


def test_asset_group_list_shows_the_marts(chromium, webserver, tmp_path):
    url = f"{webserver}/locations/{LOCATION}/asset-groups/marts/list"
    links = tuple(f'href="/assets/marts/{name}"' for name in MARTS)
    # Lists render only the rows in view; a tall window keeps every mart in it.
    dom = _rendered_dom(chromium, tmp_path, url, _contains(*links), window="1400,3000")
    assert 'id="initialization-data"' in dom, "not the Dagster UI"
    for name, link in zip(MARTS, links, strict=True):
        assert link in dom, f"{name} is not listed in the marts group page"


@pytest.mark.parametrize(
    ("asset", "check"),
    [("marts/dim_region", "region_code_unique"), ("raw/submissions", "every_source_row_accounted_for")],
)
def test_asset_checks_tab_lists_our_checks(chromium, webserver, tmp_path, asset, check):
    dom = _rendered_dom(chromium, tmp_path, f"{webserver}/assets/{asset}?view=checks", _contains(check))
    assert check in dom, f"check {check} not shown on {asset}'s checks tab"


def _graph_nodes_shown(dom: str) -> list[str]:
    """Marts drawn as graph nodes (a node's label is the bare table name as element text)."""
    marts = sorted(sql.stem for sql in (ROOT / "dbt_like_sql" / "marts").glob("*.sql"))
    return [name for name in marts if f">{name}<" in dom]


def test_asset_graph_renders_and_is_screenshotted(chromium, webserver, tmp_path):
    url = f"{webserver}/locations/{LOCATION}/asset-groups/marts"
    # The lineage graph draws only the nodes inside the viewport, and which ones those are
    # shifts with the layout as assets are added, so ask for "several marts", not named ones.
    dom = _rendered_dom(
        chromium, tmp_path, url,
        lambda dom: "Asset checks" in dom and len(_graph_nodes_shown(dom)) >= MIN_GRAPH_NODES,
    )
    shown = _graph_nodes_shown(dom)
    assert len(shown) >= MIN_GRAPH_NODES, f"marts lineage graph drew only {shown}"
    assert "Asset checks" in dom, "graph nodes do not show their asset checks"
    assert "Join the Dagster community" not in dom, "the community dialog would cover the graph"

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    result = _run_chromium(chromium, tmp_path, [f"--screenshot={SCREENSHOT}", url])
    assert SCREENSHOT.is_file(), f"no screenshot written:\n{result.stderr[-2000:]}"
    png = SCREENSHOT.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) > 10_000, f"screenshot is only {len(png)} bytes"
