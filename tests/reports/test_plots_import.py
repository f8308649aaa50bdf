"""Matplotlib is imported when a report is drawn, not when the definitions load (the UI's code
server, the daemon and every CLI command load them; it was a fifth of their import time)."""

import subprocess
import sys

from tests.paths import ROOT_DIR


def test_loading_the_definitions_does_not_import_matplotlib():
    code = ("import sys; from pipelines.definitions import defs; "
            "sys.exit(1 if 'matplotlib' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT_DIR, check=False).returncode == 0


def test_a_figure_still_draws_as_png():
    from pipelines.reports.plots import terminal_digit_bars

    png = terminal_digit_bars({"height": [10] * 10, "weight": [12] * 10}, "2024-08")
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000
