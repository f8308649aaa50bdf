"""Small figures for the quality report, drawn from already-aggregated data as inline SVG.

Each figure is an ``<svg>`` element written directly (:mod:`pipelines.reports.svg`): the report
stays one self-contained file, its figures are sharp at any zoom, their numbers are text a reader
can select or search, and drawing them costs milliseconds. (They were matplotlib PNGs until
2026-12-04: importing matplotlib and drawing the three figures took 1.9 of the report's 2.1 s on a
Banten month, every run.)
"""

from __future__ import annotations

import math

from pipelines.reports.svg import Canvas, Panel, nice_ticks, number

EXPECTED_COLOR = "#c0392b"
BAR_COLOR = "#2e86c1"


def short_regency(name: str) -> str:
    """'Kabupaten Pandeglang' -> 'Kab. Pandeglang' so eight titles fit on a phone-sized figure."""
    return name.replace("Kabupaten ", "Kab. ")


def _normal_pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def digit_preference_score(counts: list[int]) -> float | None:
    """WHO digit preference score, 100 * sqrt(chi2 / (9 N)); 0 = none, > 20 = problematic."""
    total = sum(counts)
    if total == 0:
        return None
    expected = total / 10
    chi2 = sum((n - expected) ** 2 / expected for n in counts)
    return 100 * math.sqrt(chi2 / (total * 9))


def haz_small_multiples(
    bins: list[dict], stats: list[dict], names: dict[str, str], bin_width: float, period: str
) -> str:
    """HAZ density per regency (step histogram) against the WHO standard N(0,1), one panel per regency.

    Args:
        bins: rows ``regency_code, bin, n`` where the bin covers ``[bin * width, (bin + 1) * width)``.
        stats: rows ``regency_code, n, mean, sd`` (order sets the panel order).
        names: regency code -> display name.
        bin_width: width of a bin in z units.
        period: shown in the title.
    """
    ncols, width, height = 4, 230, 170
    nrows = max(1, math.ceil(len(stats) / ncols))
    curve = [(x / 10, _normal_pdf(x / 10)) for x in range(-50, 51)]
    by_regency: dict[str, dict[int, int]] = {}
    for row in bins:
        by_regency.setdefault(row["regency_code"], {})[row["bin"]] = row["n"]
    densities = {}
    for st in stats:
        counts = by_regency.get(st["regency_code"], {})
        densities[st["regency_code"]] = {b: n / (st["n"] * bin_width) for b, n in counts.items() if st["n"]}
    top = max([0.4, *(d for panel in densities.values() for d in panel.values())])
    y_ticks = nice_ticks(0.0, top, 4)
    canvas = Canvas(70 + ncols * width, 52 + nrows * height,
                    f"HAZ of unflagged children, {period} (bars) vs WHO standard N(0,1) (dashed); line = mean")
    canvas.title()
    for i, st in enumerate(stats):
        row, col = divmod(i, ncols)
        x0, y0 = 60 + col * width, 40 + row * height
        panel = Panel(canvas, x0 + 8, y0 + 22, width - 20, height - 50, (-5.0, 5.0), (0.0, y_ticks[-1]))
        panel.grid([-4, -2, 0, 2, 4], y_ticks, x_labels=row == nrows - 1 or i + ncols >= len(stats),
                   y_labels=col == 0, y_format=lambda v: number(v, 1))
        density = densities[st["regency_code"]]
        if density:
            lo, hi = min(density), max(density)
            panel.stairs([density.get(b, 0.0) for b in range(lo, hi + 1)],
                         [b * bin_width for b in range(lo, hi + 2)], BAR_COLOR)
        panel.line(curve, EXPECTED_COLOR, dashed=True)
        if st["mean"] is not None:
            panel.vline(st["mean"], "#000")
        sd = "n/a" if st["sd"] is None else f"{st['sd']:.2f}"
        mean = "n/a" if st["mean"] is None else f"{st['mean']:+.2f}"
        canvas.text(x0 + 8 + (width - 20) / 2, y0 + 16, short_regency(names.get(st["regency_code"], st["regency_code"])),
                    size=12, anchor="middle")
        panel.note([f"n={st['n']:,}", f"mean {mean}", f"SD {sd}"])
    canvas.text(60 + ncols * width / 2, canvas.height - 6, "height-for-age z-score", size=11, anchor="middle")
    canvas.text(14, 40 + nrows * height / 2, "density", size=11, anchor="middle", rotate=True)
    return canvas.svg()


def terminal_digit_bars(counts: dict[str, list[int]], period: str) -> str:
    """Share of each terminal (first decimal) digit of height and weight, with the 10 % expected line."""
    labels = {"height": "Height (Tinggi badan), cm", "weight": "Weight (Berat badan), kg"}
    shares = {}
    for variable in ("height", "weight"):
        total = sum(counts[variable])
        shares[variable] = [100 * n / total if total else 0.0 for n in counts[variable]]
    y_ticks = nice_ticks(0.0, max([12.0, *(s * 1.08 for v in shares.values() for s in v)]), 5)
    canvas = Canvas(940, 340, f"Terminal-digit preference, {period}")
    canvas.title()
    for i, variable in enumerate(("height", "weight")):
        x0 = 70 + i * 440
        values = counts[variable]
        dps = digit_preference_score(values)
        score = "n/a" if dps is None else f"{dps:.1f}"
        canvas.text(x0 + 190, 46, labels[variable], size=12, anchor="middle")
        canvas.text(x0 + 190, 62, f"n={sum(values):,}, digit preference score {score}", size=11, anchor="middle")
        panel = Panel(canvas, x0, 72, 380, 220, (-0.6, 9.6), (0.0, y_ticks[-1]))
        panel.grid(list(range(10)), y_ticks, y_labels=i == 0, vertical=False)
        for digit, share in enumerate(shares[variable]):
            panel.bar(digit, 0.8, share, BAR_COLOR)
            panel.label(digit, share, f"{share:.0f}")
        panel.hline(10.0, EXPECTED_COLOR, dashed=True)
        canvas.text(x0 + 190, 322, "terminal digit (.0 - .9)", size=11, anchor="middle")
        if i == 0:
            panel.legend([("expected 10 %", EXPECTED_COLOR, True)])
    canvas.text(18, 182, "share of measurements (%)", size=11, anchor="middle", rotate=True)
    return canvas.svg()


def prevalence_ci_bars(rows: list[dict], names: dict[str, str], period: str) -> str:
    """Routine stunting prevalence per regency with 95 % Wilson CI, the province as a vertical line."""
    regencies = [r for r in rows if r["region_level"] == "regency"]
    province = next((r for r in rows if r["region_level"] == "province"), None)
    row_h, left = 26, 300
    height = 40 + row_h * len(regencies) + 44
    top = max([1.0, *(r["ci_high"] or r["pct_prevalence"] or 0.0 for r in regencies)])
    x_ticks = nice_ticks(0.0, top, 6)
    canvas = Canvas(940, height, f"Routine (e-PPGBM) stunting prevalence by regency, {period}")
    canvas.title()
    panel = Panel(canvas, left, 40, 940 - left - 30, row_h * len(regencies), (0.0, x_ticks[-1]),
                  (len(regencies) - 0.5, -0.5))
    panel.grid(x_ticks, [], x_format=lambda v: number(v, 0))
    for i, r in enumerate(regencies):
        name = short_regency(names.get(r["region_code"], r["region_code"]))
        canvas.text(left - 8, panel.y(i) + 4, f"{name} (n={r['n_children']:,})", size=11, anchor="end")
        panel.hbar(i, 0.7, r["pct_prevalence"], BAR_COLOR)
        panel.whisker(i, r["ci_low"], r["ci_high"])
    if province is not None:
        panel.vline(province["pct_prevalence"], EXPECTED_COLOR, dashed=True)
        panel.legend([(f"Banten {province['pct_prevalence']:.1f} %", EXPECTED_COLOR, True)], corner="bottom-right")
    canvas.text(left + (940 - left - 30) / 2, height - 8,
                "stunting (HAZ < -2), % of measured children with 95 % CI", size=11, anchor="middle")
    return canvas.svg()
