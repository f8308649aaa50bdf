"""Per-run data-quality report: one self-contained HTML page a person would rather read than query,
plus a short Markdown summary for the Dagster UI.

Reads the warehouse only through aggregate SQL (:mod:`pipelines.reports.queries`); every table is
optional, a missing one turns its section into a note. Rejected-row payloads are never read.
"""

from __future__ import annotations

import html
import os
import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipelines.publishing.contents import private_mkdir, published_mode
from pipelines.reports import parser_sections, queries, set_aside_section
from pipelines.reports import render as r
from pipelines.reports import submission_sections as subs
from pipelines.reports.measurement_sections import flags_section, plots_section

SECTIONS = {
    "headline": "Headline (Ringkasan)",
    "checks": "Check outcomes (Hasil pemeriksaan)",
    "quarantine": "Quarantine (Karantina)",
    "parser": "Values nulled and parser assumptions (Nilai dikosongkan dan asumsi parser)",
    "plots": "Plots (Grafik)",
    "flags": "Data-quality flags (Penanda kualitas data)",
    "completeness": "Completeness (Kelengkapan laporan)",
    "set_aside": set_aside_section.TITLE,
    "validation": "Validation suites (Validasi berkas)",
}
MAX_MARKDOWN_LINES = 40


@dataclass
class ReportResult:
    """What :func:`build_quality_report` wrote: the HTML path, a Markdown summary and the PNGs by name."""

    html_path: Path
    markdown: str
    figures: dict[str, str] = field(default_factory=dict)


def build_quality_report(
    con: duckdb.DuckDBPyConnection,
    out_dir: Path,
    run_id: str | None,
    check_results: list[dict] | None = None,
) -> ReportResult:
    """Render the data-quality report of one run to ``out_dir/quality_<run_id or 'latest'>.html``.

    Also copies it to ``out_dir/latest.html``. Sections: headline and reconciliation
    (``raw.submissions``), check outcomes (``check_results``), quarantine (``quarantine.*``), values
    nulled and parser warnings (``quarantine.rejected_values``, ``raw.submission_warnings``), plots
    (``marts.fct_child_measurement``, ``marts.fct_stunting_prevalence``), WHO data-quality flags
    (``marts.fct_growth_data_quality``), completeness (``marts.mart_submission_completeness``), submissions
    set aside by operators (``staging.stg_submissions``) and, when
    present, validation suites (``raw.submission_validation``).

    Args:
        con: an open (read-only is enough) DuckDB connection to the warehouse.
        out_dir: folder for the HTML files; created if missing.
        run_id: the run to report on; ``None`` reports the whole warehouse as "latest".
        check_results: optional dicts with keys ``asset``, ``check``, ``passed``, ``severity``
            (``ERROR``/``WARN``), ``description`` and ``metadata`` (a short summary, str or dict).

    Returns:
        ReportResult with the HTML path, a Markdown summary (≤ 40 lines) and the PNG bytes by figure name.
    """
    out_dir = Path(out_dir)
    private_mkdir(out_dir)
    tables = queries.existing_tables(con)
    facts = subs.Facts()
    figures: dict[str, str] = {}
    sections = [
        r.section("headline", SECTIONS["headline"], subs.headline(con, run_id, tables, facts)),
        r.section("checks", SECTIONS["checks"], subs.checks(check_results, facts)),
        r.section("quarantine", SECTIONS["quarantine"], subs.quarantine(con, run_id, tables, facts)),
        r.section("parser", SECTIONS["parser"], parser_sections.section(con, run_id, tables, facts)),
        r.section("plots", SECTIONS["plots"], plots_section(con, tables, figures)),
        r.section("flags", SECTIONS["flags"], flags_section(con, tables)),
        r.section("completeness", SECTIONS["completeness"], subs.completeness(con, tables)),
        r.section("set_aside", SECTIONS["set_aside"], set_aside_section.section(con, tables, facts)),
    ]
    nav = [(k, v) for k, v in SECTIONS.items() if k != "validation"]
    if "raw.submission_validation" in tables:
        sections.append(r.section("validation", SECTIONS["validation"], subs.validation(con, run_id, tables)))
        nav.append(("validation", SECTIONS["validation"]))
    scope = f"run <code>{html.escape(run_id)}</code>" if run_id else "all runs in the warehouse"
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    document = r.page(
        "Data-quality report (Laporan kualitas data)", f"{scope} · generated {generated}", nav, sections
    )

    html_path = out_dir / f"quality_{_file_token(run_id)}.html"
    _write_atomic(html_path, document)
    latest = out_dir / "latest.html"
    if latest != html_path:
        shutil.copyfile(html_path, latest)
    return ReportResult(html_path=html_path, markdown=_markdown(facts, run_id, html_path), figures=figures)


def _file_token(run_id: str | None) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", run_id) if run_id else "latest"


def _write_atomic(path: Path, content: str) -> None:
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(content, encoding="utf-8")
    os.chmod(tmp, published_mode())  # names refused files: no world read by default
    os.replace(tmp, path)


def _markdown(facts: subs.Facts, run_id: str | None, html_path: Path) -> str:
    scope = f"run `{run_id}`" if run_id else "all runs"
    received = (
        f"{facts.files_run:,} this run / {facts.files_total:,} total" if run_id else f"{facts.files_total:,}"
    )
    if facts.reconciliation_bad:
        recon = f"**NOT OK** for {', '.join(facts.reconciliation_bad)}"
    else:
        recon = f"OK ({facts.n_streams} streams)"
    lines = [
        f"### Data-quality report ({scope})",
        f"- Submissions received: {received}",
        f"- Rows landed: {facts.rows_landed:,}; rows quarantined: {facts.rows_quarantined:,}; "
        f"files rejected: {facts.files_rejected:,}",
        f"- Reconciliation (read = landed + quarantined): {recon}",
        f"- Checks: {facts.checks_passed} passed, {len(facts.failed_checks)} failed",
    ]
    for c in facts.failed_checks[:10]:
        lines.append(f"  - **{subs.severity(c)}** `{c.get('asset')}` {c.get('check')}")
    if len(facts.failed_checks) > 10:
        lines.append(f"  - … and {len(facts.failed_checks) - 10} more")
    if facts.not_landed:
        lines.append(f"- **Not landed (WARN)**: {facts.not_landed.headline}")
        items = [*facts.not_landed.refused, *facts.not_landed.thin]
        lines += [f"  - `{x.stream}/{x.file_name}`: {x.reason}" for x in items[:5]]
        if len(items) > 5:
            lines.append(f"  - … and {len(items) - 5} more (see the headline of the full report)")
    if facts.top_reasons:
        lines.append("- Top quarantine reasons:")
        lines += [
            f"  - `{x['reason_code']}` ({x['stream']}): {x['n_total']:,} rows" for x in facts.top_reasons
        ]
    if facts.n_set_aside:
        lines.append(f"- Set aside by operators: {facts.n_set_aside:,} submission(s), left out of staging and marts")
    lines.append(f"- Values nulled, rows kept: {facts.values_nulled:,}")
    if facts.top_warnings:
        lines.append("- Parser warnings (submissions):")
        n = "n_files_run" if run_id else "n_files"
        lines += [f"  - `{x['code']}` ({x['stream']}): {x[n]:,}" for x in facts.top_warnings]
    # the summary is shown in the Dagster UI: same redaction as the page (not of our own path), ≤ 40 lines
    lines = [r.redact(line) for line in lines[: MAX_MARKDOWN_LINES - 1]]
    lines.append(f"- Full report: `{html_path}`")
    return "\n".join(lines)
