"""The report's figures are inline SVG drawn without a plotting library: well-formed, labelled,
their text escaped, and drawn in milliseconds (matplotlib took 1.9 of the report's 2.1 s)."""

import math
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from pipelines.reports import plots
from pipelines.reports.svg import Canvas, Panel, nice_ticks, number
from tests.paths import ROOT_DIR

SVG = ""  # inline in HTML5: no xmlns


def _parsed(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img" and root.get("aria-label")
    return root


def _texts(root: ET.Element) -> list[str]:
    return [t.text for t in root.iter(f"{SVG}text")]


def test_drawing_a_report_imports_no_plotting_library():
    code = ("import sys; from pipelines.definitions import defs; from pipelines.reports import plots; "
            "plots.terminal_digit_bars({'height': [1] * 10, 'weight': [2] * 10}, '2024-08'); "
            "sys.exit(1 if 'matplotlib' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT_DIR, check=False).returncode == 0


def test_terminal_digits_show_each_share_and_the_score():
    counts = {"height": [50] + [5] * 9, "weight": [10] * 10}
    root = _parsed(plots.terminal_digit_bars(counts, "2024-08"))
    texts = _texts(root)
    assert "Terminal-digit preference, 2024-08" in texts
    dps = plots.digit_preference_score(counts["height"])
    assert f"n=95, digit preference score {dps:.1f}" in texts
    assert "n=100, digit preference score 0.0" in texts
    assert texts.count("53") == 1 and texts.count("5") >= 9  # 50/95 and 5/95 as whole percents
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("fill") == plots.BAR_COLOR]
    assert len(bars) == 20
    heights = [float(b.get("height")) for b in bars[:10]]
    assert heights[0] == pytest.approx(heights[1] * 10, rel=1e-3)  # bars in proportion


def test_small_multiples_one_panel_per_regency_with_escaped_names():
    stats = [{"regency_code": f"36.0{i}", "n": 100, "mean": -1.0 + i / 10, "sd": 1.1} for i in range(1, 6)]
    stats.append({"regency_code": "36.09", "n": 4, "mean": None, "sd": None})
    bins = [{"regency_code": st["regency_code"], "bin": b, "n": 10} for st in stats[:5] for b in range(-8, 2)]
    bins.append({"regency_code": "36.09", "bin": 30, "n": 4})  # beyond the axis: kept inside the panel
    names = {"36.01": "Kabupaten <Pandeglang> & Co", "36.09": "Kota \"Serang\""}
    svg = plots.haz_small_multiples(bins, stats, names, 0.25, "2024-08")
    root = _parsed(svg)
    texts = _texts(root)
    assert "Kab. <Pandeglang> & Co" in texts and 'Kota "Serang"' in texts  # escaped in the markup
    assert "<Pandeglang>" not in svg
    assert "36.02" in texts and texts.count("SD 1.10") == 5 and "SD n/a" in texts and "mean n/a" in texts
    assert len(list(root.iter(f"{SVG}polygon"))) == 6
    curves = list(root.iter(f"{SVG}polyline"))
    assert len(curves) == 6
    width = float(root.get("width"))
    for polygon in root.iter(f"{SVG}polygon"):
        xs = [float(p.split(",")[0]) for p in polygon.get("points").split()]
        assert 0 <= min(xs) and max(xs) <= width


def test_prevalence_bars_show_ci_and_province():
    rows = [{"region_level": "regency", "region_code": "36.01", "n_children": 1200, "pct_prevalence": 20.0,
             "ci_low": 18.0, "ci_high": 22.5},
            {"region_level": "regency", "region_code": "36.02", "n_children": 30, "pct_prevalence": 10.0,
             "ci_low": None, "ci_high": None},
            {"region_level": "province", "region_code": "36", "n_children": 1230, "pct_prevalence": 19.7,
             "ci_low": 17.5, "ci_high": 21.9}]
    root = _parsed(plots.prevalence_ci_bars(rows, {"36.01": "Kabupaten Pandeglang"}, "2024-08"))
    texts = _texts(root)
    assert "Kab. Pandeglang (n=1,200)" in texts and "36.02 (n=30)" in texts and "Banten 19.7 %" in texts
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("fill") == plots.BAR_COLOR]
    assert float(bars[0].get("width")) == pytest.approx(2 * float(bars[1].get("width")), rel=1e-3)
    assert float(bars[0].get("y")) < float(bars[1].get("y"))  # the first regency on top
    assert len(list(root.iter(f"{SVG}line"))) >= 3 + 1  # one whisker (3 lines) and the province


@pytest.mark.parametrize(("lo", "hi", "about"), [(0, 0.4, 4), (0, 66.3, 5), (0, 24.1, 6), (0, 1, 6), (0, 0, 4),
                                                 (-5, 5, 5), (0, 1234, 5)])
def test_nice_ticks_cover_the_range_in_round_steps(lo, hi, about):
    ticks = nice_ticks(lo, hi, about)
    assert ticks[0] <= lo and ticks[-1] >= hi
    steps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:], strict=False)}
    assert len(steps) == 1
    (step,) = steps
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert round(mantissa, 6) in (1, 2, 5)
    assert len(ticks) <= 2 * about + 2


def test_panel_maps_data_to_pixels_and_keeps_them_inside():
    panel = Panel(Canvas(200, 100, "t"), 10, 20, 100, 50, (0.0, 10.0), (0.0, 1.0))
    assert (panel.x(0), panel.x(5), panel.x(10)) == (10, 60, 110)
    assert (panel.y(0), panel.y(1), panel.y(0.5)) == (70, 20, 45)
    assert (panel.x(-99), panel.x(99), panel.y(7)) == (10, 110, 20)
    assert number(-0.001, 1) == "0.0" and number(-1.25, 1) in ("-1.2", "-1.3")
