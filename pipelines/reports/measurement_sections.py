"""Report sections about the measurements themselves: plots of HAZ, terminal digits and prevalence,
and the WHO data-quality flags per reporting unit."""

from __future__ import annotations

from pipelines.reports import plots, queries
from pipelines.reports import render as r

# Figures stay legible, and quick to draw, with a few dozen panels or bars: Banten has 8
# regencies, a national warehouse over 400 (one panel each took minutes and a huge image).
# Beyond these, the plots show the regencies that matter most and say so.
MAX_HAZ_PANELS = 24
MAX_PREVALENCE_BARS = 40


def plots_section(con, tables: set[str], figures: dict[str, str]) -> str:
    """Section 4: HAZ by regency, terminal digits and prevalence; SVG figures are also added to ``figures``."""
    out = ""
    names = queries.regency_names(con, tables)
    period = queries.latest_measurement_period(con) if "marts.fct_child_measurement" in tables else None
    if period is None:
        out += (
            r.missing_table("marts.fct_child_measurement")
            if "marts.fct_child_measurement" not in tables
            else ('<p class="note">No child measurements yet.</p>')
        )
    else:
        bins, stats = queries.haz_histogram(con, period)
        if stats:
            shown_note = ""
            if len(stats) > MAX_HAZ_PANELS:
                lowest = sorted(stats, key=lambda st: st["mean"] if st["mean"] is not None else 0.0)[:MAX_HAZ_PANELS]
                keep = {st["regency_code"] for st in lowest}
                shown_note = (f'<p class="note">Showing the {MAX_HAZ_PANELS} of {len(stats)} regencies with the '
                              "lowest mean HAZ.</p>")
                stats = [st for st in stats if st["regency_code"] in keep]
                bins = [b for b in bins if b["regency_code"] in keep]
            figures["haz_by_regency"] = plots.haz_small_multiples(
                bins, stats, names, queries.HAZ_BIN_WIDTH, period
            )
            out += (
                "<h3>Height-for-age by regency (Sebaran TB/U per kabupaten/kota)</h3>"
                + shown_note
                + r.figure(figures["haz_by_regency"], "HAZ distribution per regency against N(0,1)")
                + '<p class="note">WHO-flagged values excluded. Routine data usually shows a narrower spread '
                "than surveys (SD 1.35–1.95); a curve shifted left of the WHO curve means more stunting.</p>"
            )
        digits = queries.terminal_digits(con, period)
        if sum(digits["height"]) + sum(digits["weight"]):
            figures["terminal_digits"] = plots.terminal_digit_bars(digits, period)
            out += (
                "<h3>Terminal digits (Preferensi angka akhir)</h3>"
                + r.figure(figures["terminal_digits"], "terminal digit shares of height and weight")
                + '<p class="note">Without rounding each digit holds about 10 %; tall bars at 0 and 5 mean '
                "measurements were rounded to whole or half units.</p>"
            )
    if "marts.fct_stunting_prevalence" in tables:
        prev_period, prev = queries.regency_stunting(con)
        if any(x["region_level"] == "regency" for x in prev):
            regencies = [x for x in prev if x["region_level"] == "regency"]
            shown_note = ""
            if len(regencies) > MAX_PREVALENCE_BARS:
                top = sorted(regencies, key=lambda x: -(x["pct_prevalence"] or 0.0))[:MAX_PREVALENCE_BARS]
                keep = {x["region_code"] for x in top}
                shown_note = (f'<p class="note">Showing the {MAX_PREVALENCE_BARS} of {len(regencies)} regencies '
                              "with the highest prevalence.</p>")
                prev = [x for x in prev if x["region_level"] != "regency" or x["region_code"] in keep]
            figures["stunting_by_regency"] = plots.prevalence_ci_bars(prev, names, prev_period)
            out += (
                "<h3>Stunting prevalence by regency (Prevalensi stunting per kabupaten/kota)</h3>"
                + shown_note
                + r.figure(figures["stunting_by_regency"], "stunting prevalence by regency with 95% CI")
                + '<p class="note">Routine e-PPGBM figures run far below survey (SSGI/SKI) figures; do not '
                "compare the two directly.</p>"
            )
    return out or '<p class="note">Nothing to plot yet.</p>'


def flags_section(con, tables: set[str]) -> str:
    """Section 5: the units most out of line on SD of HAZ, digit preference and measuring position."""
    if "marts.fct_growth_data_quality" not in tables:
        return r.missing_table("marts.fct_growth_data_quality")
    f = queries.growth_quality_flags(con, tables)
    low, high = queries.HAZ_SD_RANGE

    def rows(items: list[dict]) -> list[list]:
        return [
            [
                x["unit_level"],
                x["unit_name"],
                x["region_name"],
                x["period"],
                x["n_measurements"],
                r.num(x["sd_haz"], 2),
                r.num(x["dps_height"], 1),
                r.num(x["dps_weight"], 1),
                r.num(x["pct_wrong_position"], 1),
            ]
            for x in items
        ]

    head = [
        "Level",
        "Unit",
        "Region",
        "Period",
        "n",
        "SD HAZ",
        "DPS height",
        "DPS weight",
        "% wrong position",
    ]
    return (
        f'<p class="note">{f["n_units"]:,} unit-periods (posyandu, puskesmas, village) with at least '
        f"{queries.MIN_UNIT_MEASUREMENTS} measurements are assessed; smaller units are too noisy.</p>"
        f"<h3>SD of HAZ outside {low}–{high} (Simpangan baku TB/U): {f['n_sd_low']:,} below, "
        f"{f['n_sd_high']:,} above</h3>"
        f'<p class="note">{low}–{high} is the range seen in DHS surveys. Routine data is expected to sit lower; '
        "a very low SD can also mean rounded or copied values. The 10 most extreme:</p>"
        + r.table(head, rows(f["sd_haz"]))
        + f"<h3>Digit preference score above {queries.DPS_LIMIT:.0f} (Preferensi angka): {f['n_dps']:,}</h3>"
        + r.table(head, rows(f["dps"]))
        + f"<h3>Wrong measuring position above {queries.WRONG_POSITION_LIMIT_PCT:.0f} % (Cara ukur salah): "
        f"{f['n_wrong_position']:,}</h3>"
        '<p class="note">Under 2 years measured standing, or 2 years and over measured lying.</p>'
        + r.table(head, rows(f["wrong_position"]))
    )
