"""Small PNG figures for the quality report, drawn from already-aggregated data.

Figures are built on :class:`matplotlib.figure.Figure` and saved through the Agg canvas, without pyplot:
no global backend switch, no figure registry to leak, safe inside a Dagster worker.
"""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 80
EXPECTED_COLOR = "#c0392b"
BAR_COLOR = "#2e86c1"


def _figure(**kwargs) -> Figure:
    """A new figure. Matplotlib is imported here, when a report is drawn, not when the definitions
    load (it was a fifth of their import time, in every process that loads them: UI, daemon, CLI)."""
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def _png(fig: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


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
) -> bytes:
    """HAZ density per regency (step histogram) against the WHO standard N(0,1), one panel per regency.

    Args:
        bins: rows ``regency_code, bin, n`` where the bin covers ``[bin * width, (bin + 1) * width)``.
        stats: rows ``regency_code, n, mean, sd`` (order sets the panel order).
        names: regency code -> display name.
        bin_width: width of a bin in z units.
        period: shown in the title.
    """
    ncols = 4
    nrows = max(1, math.ceil(len(stats) / ncols))
    fig = _figure(figsize=(10, 2.5 * nrows + 0.5))
    axes = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False)
    curve_x = [x / 10 for x in range(-50, 51)]
    curve_y = [_normal_pdf(x) for x in curve_x]
    by_regency: dict[str, dict[int, int]] = {}
    for row in bins:
        by_regency.setdefault(row["regency_code"], {})[row["bin"]] = row["n"]
    for ax, st in zip(axes.flat, stats, strict=False):
        counts = by_regency.get(st["regency_code"], {})
        lo, hi = min(counts), max(counts)
        edges = [b * bin_width for b in range(lo, hi + 2)]
        density = [counts.get(b, 0) / (st["n"] * bin_width) for b in range(lo, hi + 1)]
        ax.stairs(density, edges, fill=True, color=BAR_COLOR, alpha=0.55)
        ax.plot(curve_x, curve_y, color=EXPECTED_COLOR, linestyle="--", linewidth=1.2)
        if st["mean"] is not None:
            ax.axvline(st["mean"], color="black", linewidth=0.8)
        sd = "n/a" if st["sd"] is None else f"{st['sd']:.2f}"
        ax.set_title(short_regency(names.get(st["regency_code"], st["regency_code"])), fontsize=10)
        ax.text(
            0.03,
            0.95,
            f"n={st['n']:,}\nmean {st['mean']:+.2f}\nSD {sd}",
            transform=ax.transAxes,
            va="top",
            fontsize=8,
        )
        ax.set_xlim(-5, 5)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(stats) :]:
        ax.set_visible(False)
    fig.suptitle(
        f"HAZ of unflagged children, {period} (bars) vs WHO standard N(0,1) (dashed); line = mean",
        fontsize=11,
    )
    fig.supxlabel("height-for-age z-score", fontsize=9)
    fig.supylabel("density", fontsize=9)
    fig.tight_layout()
    return _png(fig)


def terminal_digit_bars(counts: dict[str, list[int]], period: str) -> bytes:
    """Share of each terminal (first decimal) digit of height and weight, with the 10 % expected line."""
    fig = _figure(figsize=(10, 4))
    axes = fig.subplots(1, 2, sharey=True)
    labels = {"height": "Height (Tinggi badan), cm", "weight": "Weight (Berat badan), kg"}
    for ax, variable in zip(axes, ("height", "weight"), strict=True):
        values = counts[variable]
        total = sum(values)
        shares = [100 * n / total if total else 0 for n in values]
        ax.bar(range(10), shares, color=BAR_COLOR)
        ax.axhline(10, color=EXPECTED_COLOR, linestyle="--", linewidth=1.2, label="expected 10 %")
        dps = digit_preference_score(values)
        score = "n/a" if dps is None else f"{dps:.1f}"
        ax.set_title(f"{labels[variable]}\nn={total:,}, digit preference score {score}", fontsize=10)
        ax.set_xticks(range(10))
        ax.set_xlabel("terminal digit (.0 - .9)", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
        for digit, share in enumerate(shares):
            ax.text(digit, share, f"{share:.0f}", ha="center", va="bottom", fontsize=8)
    axes[0].set_ylabel("share of measurements (%)", fontsize=9)
    axes[0].legend(fontsize=8, loc="upper right")
    fig.suptitle(f"Terminal-digit preference, {period}", fontsize=11)
    fig.tight_layout()
    return _png(fig)


def prevalence_ci_bars(rows: list[dict], names: dict[str, str], period: str) -> bytes:
    """Routine stunting prevalence per regency with 95 % Wilson CI, the province as a vertical line."""
    regencies = [r for r in rows if r["region_level"] == "regency"]
    province = next((r for r in rows if r["region_level"] == "province"), None)
    fig = _figure(figsize=(10, 1.2 + 0.4 * len(regencies)))
    ax = fig.subplots()
    ys = list(range(len(regencies)))[::-1]
    values = [r["pct_prevalence"] for r in regencies]
    err = [
        [v - r["ci_low"] for v, r in zip(values, regencies, strict=True)],
        [r["ci_high"] - v for v, r in zip(values, regencies, strict=True)],
    ]
    ax.barh(ys, values, xerr=err, color=BAR_COLOR, alpha=0.8, capsize=3, ecolor="black")
    ax.set_yticks(ys)
    ax.set_yticklabels(
        [
            f"{short_regency(names.get(r['region_code'], r['region_code']))} (n={r['n_children']:,})"
            for r in regencies
        ],
        fontsize=9,
    )
    if province is not None:
        ax.axvline(
            province["pct_prevalence"],
            color=EXPECTED_COLOR,
            linestyle="--",
            linewidth=1.2,
            label=f"Banten {province['pct_prevalence']:.1f} %",
        )
        ax.legend(fontsize=8, loc="lower right")
    ax.set_xlabel("stunting (HAZ < -2), % of measured children with 95 % CI", fontsize=9)
    ax.set_title(f"Routine (e-PPGBM) stunting prevalence by regency, {period}", fontsize=11)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _png(fig)
