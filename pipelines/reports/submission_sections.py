"""Report sections about what arrived and what happened to it: headline and reconciliation, check
outcomes, quarantine, completeness and validation suites. Each renderer returns an HTML fragment and
records the numbers the Markdown summary repeats in :class:`Facts`."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipelines.reports import plots, queries
from pipelines.reports import render as r
from pipelines.reports.not_landed import NotLanded


@dataclass
class Facts:
    """Numbers gathered while rendering, reused for the Markdown summary."""

    files_run: int = 0
    files_total: int = 0
    rows_landed: int = 0
    rows_quarantined: int = 0
    files_rejected: int = 0
    reconciliation_bad: list[str] = field(default_factory=list)
    n_streams: int = 0
    checks_passed: int = 0
    failed_checks: list[dict] = field(default_factory=list)
    top_reasons: list[dict] = field(default_factory=list)
    values_nulled: int = 0
    top_warnings: list[dict] = field(default_factory=list)
    not_landed: NotLanded = field(default_factory=NotLanded)
    n_set_aside: int = 0


def headline(con, run_id: str | None, tables: set[str], facts: Facts) -> str:
    """Section 1: what did not land (a warning box), files and rows by stream x transport, and the
    read = landed + quarantined check."""
    if "raw.submissions" not in tables:
        return r.missing_table("raw.submissions")
    facts.not_landed = NotLanded.find(con, run_id)
    rows = queries.submissions_by_stream(con, run_id)
    suffix = "run" if run_id else "total"
    facts.files_run = sum(x["n_files_run"] for x in rows)
    facts.files_total = sum(x["n_files_total"] for x in rows)
    facts.rows_landed = sum(x[f"n_rows_landed_{suffix}"] for x in rows)
    facts.rows_quarantined = sum(x[f"n_rows_quarantined_{suffix}"] for x in rows)
    facts.files_rejected = sum(x[f"n_files_rejected_{suffix}"] for x in rows)
    scope = "this run" if run_id else "all runs"
    received = f"{facts.files_run:,} / {facts.files_total:,}" if run_id else f"{facts.files_total:,}"
    cards = [
        (received, "submissions received this run / total" if run_id else "submissions received"),
        (f"{facts.rows_landed:,}", f"rows landed ({scope})"),
        (f"{facts.rows_quarantined:,}", f"rows quarantined ({scope})"),
        (f"{facts.files_rejected:,}", f"files rejected ({scope})"),
    ]
    out = not_landed_box(facts.not_landed) + (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><span class="num">{v}</span><span class="lbl">{r.text(label)}</span></div>'
            for v, label in cards
        )
        + "</div>"
    )
    if run_id:
        headers = [
            "Stream",
            "Transport",
            "Files this run",
            "Files total",
            "Rows landed",
            "Rows quarantined",
            "Files rejected",
        ]
        body = [
            [
                x["stream"],
                x["transport"],
                x["n_files_run"],
                x["n_files_total"],
                x["n_rows_landed_run"],
                x["n_rows_quarantined_run"],
                x["n_files_rejected_run"],
            ]
            for x in rows
        ]
    else:
        headers = ["Stream", "Transport", "Files", "Rows landed", "Rows quarantined", "Files rejected"]
        body = [
            [
                x["stream"],
                x["transport"],
                x["n_files_total"],
                x["n_rows_landed_total"],
                x["n_rows_quarantined_total"],
                x["n_files_rejected_total"],
            ]
            for x in rows
        ]
    out += "<h3>By stream and transport (Per aliran dan jalur kirim)</h3>" + r.table(headers, body)

    recon = queries.reconciliation(con, run_id, "quarantine.rejected_rows" in tables)
    facts.n_streams = len(recon)
    facts.reconciliation_bad = [x["stream"] for x in recon if not x["ok"]]
    out += (
        "<h3>Reconciliation (Rekonsiliasi): rows read = landed + quarantined</h3>"
        f'<p class="note">Accepted files of {scope}. Quarantined rows are counted in quarantine.rejected_rows '
        "(once per row) and must also match what the loader recorded.</p>"
    )
    out += r.table(
        ["Stream", "Files", "Rows read", "Landed", "Quarantined", "Recorded as quarantined", "Status"],
        [
            [
                x["stream"],
                x["n_files"],
                x["n_read"],
                x["n_landed"],
                x["n_quarantined"],
                x["n_quarantined_recorded"],
                r.Cell(r.badge("OK", "ok") if x["ok"] else r.badge("NOT OK", "bad")),
            ]
            for x in recon
        ],
        ["" if x["ok"] else "failed" for x in recon],
    )
    return out


def not_landed_box(found: NotLanded, limit: int = 50) -> str:
    """The headline's warning box: every file refused and every submission that landed under half
    its rows in the run's scope (pipelines/reports/not_landed.py), with what to do; empty if none."""
    if not found:
        return ""
    out = (f'<div class="alert"><p>{r.badge("WARN", "warn")} <strong>Not landed (Tidak masuk): '
           f"{r.text(found.headline)}.</strong> Nothing from a refused file reaches the figures. A warning: "
           "it does not stop the publish. Each stays listed until it is fixed.</p>")
    if found.refused:
        out += "<h3>Refused files (Berkas ditolak)</h3>" + r.table(
            ["File", "Stream", "Transport", "Reason", "Detail", "What to do", "Refused"],
            [[f.file_name, f.stream, f.transport, f.reason_code, f.short_detail, f.remedy, f.when]
             for f in found.refused[:limit]])
    if found.thin:
        out += "<h3>Landed under half their rows (Kurang dari separuh baris masuk)</h3>" + r.table(
            ["File", "Stream", "Period", "Rows landed", "Rows read", "Rejected for", "What to do", "Landed"],
            [[s.file_name, s.stream, s.period, s.n_rows_accepted, s.n_source_rows, s.reasons, s.remedy, s.when]
             for s in found.thin[:limit]])
    if max(len(found.refused), len(found.thin)) > limit:
        out += (f'<p class="note">The first {limit} of each list are shown; quarantine.rejected_files '
                "and raw.submissions hold them all.</p>")
    return out + "</div>"


def severity(check: dict) -> str:
    """``ERROR`` or ``WARN`` from a check dict (accepts ``AssetCheckSeverity.ERROR`` and lower case)."""
    return str(check.get("severity") or "").rsplit(".", 1)[-1].upper() or "WARN"


def _metadata_summary(check: dict) -> str:
    meta = check.get("metadata", check.get("metadata_summary"))
    if isinstance(meta, dict):
        return "; ".join(f"{k}={v}" for k, v in meta.items())
    return "" if meta is None else str(meta)


def checks(check_results: list[dict] | None, facts: Facts) -> str:
    """Section 2: asset-check outcomes, failed first and ERROR before WARN."""
    if check_results is None:
        return '<p class="note">No check results were handed to the report for this run.</p>'
    ordered = sorted(
        check_results,
        key=lambda c: (
            bool(c.get("passed")),
            severity(c) != "ERROR",
            str(c.get("asset")),
            str(c.get("check")),
        ),
    )
    facts.failed_checks = [c for c in ordered if not c.get("passed")]
    facts.checks_passed = len(ordered) - len(facts.failed_checks)
    n_error = sum(1 for c in facts.failed_checks if severity(c) == "ERROR")
    out = (
        f"<p>{facts.checks_passed} passed, {len(facts.failed_checks)} failed "
        f"({n_error} {r.badge('ERROR', 'error')} blocking, {len(facts.failed_checks) - n_error} "
        f"{r.badge('WARN', 'warn')} advisory).</p>"
    )
    rows, classes = [], []
    for c in ordered:
        sev = severity(c)
        if c.get("passed"):
            outcome = r.badge("passed", "ok")
        else:
            outcome = r.badge(f"FAILED · {sev}", "error" if sev == "ERROR" else "warn")
        rows.append(
            [r.Cell(outcome), c.get("asset"), c.get("check"), sev, c.get("description"), _metadata_summary(c)]
        )
        classes.append("" if c.get("passed") else "failed")
    return out + r.table(["Outcome", "Asset", "Check", "Severity", "Description", "Details"], rows, classes)


def quarantine(con, run_id: str | None, tables: set[str], facts: Facts) -> str:
    """Section 3: rejected rows by reason and by submitter, rejected files (names and reasons only)."""
    out = ""
    if "quarantine.rejected_rows" in tables:
        reasons = queries.quarantine_reasons(con, run_id)
        facts.top_reasons = reasons[:5]
        head = ["Stream", "Reason code", *(["This run"] if run_id else []), "Rows", "Files"]
        out += "<h3>Rejected rows by reason (Baris ditolak per alasan)</h3>" + r.table(
            head,
            [
                [x["stream"], x["reason_code"], *([x["n_run"]] if run_id else []), x["n_total"], x["n_files"]]
                for x in reasons
            ],
        )
        subs = queries.quarantine_by_submitter(con, run_id, tables)
        head = [
            "Stream",
            "Submitter",
            "Region",
            *(["This run"] if run_id else []),
            "Rows",
            "Files",
            "Most frequent reason",
        ]
        out += (
            "<h3>Top 20 submitters by rejected rows (Pengirim dengan baris ditolak terbanyak)</h3>"
            + r.table(
                head,
                [
                    [
                        x["stream"],
                        x["submitter_code"],
                        _region_label(x),
                        *([x["n_run"]] if run_id else []),
                        x["n_total"],
                        x["n_files"],
                        x["top_reason"],
                    ]
                    for x in subs
                ],
            )
        )
    else:
        out += r.missing_table("quarantine.rejected_rows")
    if "quarantine.rejected_files" in tables:
        total, files = queries.rejected_files(con, run_id)
        shown = f" (the {len(files)} most recent shown)" if total > len(files) else ""
        out += f"<h3>Rejected files (Berkas ditolak): {total:,}{shown}</h3>" + r.table(
            ["Stream", "File", "Transport", "Reason code", "Detail", *(["This run"] if run_id else [])],
            [
                [
                    x["stream"],
                    x["file_name"],
                    x["transport"],
                    x["reason_code"],
                    x["detail"],
                    *(["yes" if x["is_this_run"] else ""] if run_id else []),
                ]
                for x in files
            ],
        )
    else:
        out += r.missing_table("quarantine.rejected_files")
    return (
        out
        + '<p class="note">Row contents (payloads) are kept in the warehouse only and never shown here.</p>'
    )


def _region_label(row: dict) -> str:
    name, regency = row.get("region_name"), row.get("regency_name")
    if name and regency and name != regency:
        return f"{name} ({plots.short_regency(regency)})"
    return name or ""


def completeness(con, tables: set[str]) -> str:
    """Section 6: expected vs submitted per stream x period."""
    if "marts.mart_submission_completeness" not in tables:
        return r.missing_table("marts.mart_submission_completeness")
    rows = queries.completeness(con)
    body = []
    for x in rows:
        pct = 100 * x["n_submitted"] / x["n_expected"] if x["n_expected"] else None
        body.append(
            [
                x["stream"],
                x["period"],
                x["submitter_level"],
                x["n_expected"],
                x["n_submitted"],
                r.num(pct, 1),
                x["n_on_time"],
                x["n_late"],
                x["n_rejected_only"],
                x["n_missing"],
                x["n_unexpected"],
            ]
        )
    return (
        f'<p class="note">Expected submitters per stream and period (the latest '
        f"{queries.COMPLETENESS_PERIODS} periods of each stream).</p>"
        + r.table(
            [
                "Stream",
                "Period",
                "Submitter level",
                "Expected",
                "Submitted",
                "% submitted",
                "On time",
                "Late",
                "Only rejected files",
                "Missing",
                "Not on the list",
            ],
            body,
        )
    )


def validation(con, run_id: str | None, tables: set[str]) -> str:
    """Optional section: validation suite outcomes from ``raw.submission_validation``."""
    suites, failed = queries.validation_suites(con, run_id, tables)
    head = [
        "Stream",
        "Suite",
        *(["Validated this run", "Failed this run"] if run_id else []),
        "Validated",
        "Failed",
        "Failed expectations",
    ]
    out = r.table(
        head,
        [
            [
                x["stream"],
                x["suite_name"],
                *([x["n_validated_run"], x["n_failed_run"]] if run_id else []),
                x["n_validated"],
                x["n_failed"],
                x["n_failed_expectations"],
            ]
            for x in suites
        ],
        ["failed" if x["n_failed"] else "" for x in suites],
    )
    if failed:
        out += "<h3>Most often failed expectations (Ekspektasi yang paling sering gagal)</h3>" + r.table(
            ["Stream", "Suite", "Expectation", "Check", "Column", "Submissions", "Rows not meeting it"],
            [
                [
                    x["stream"],
                    x["suite_name"],
                    x["expectation"],
                    x["check_name"],
                    x["column_name"],
                    x["n"],
                    x["n_unexpected"],
                ]
                for x in failed
            ],
        )
    return out
