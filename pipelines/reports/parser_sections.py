"""Report section on what the parser did to the rows it landed: the values it nulled
(``quarantine.rejected_values``) by stream, column and reason, and what it assumed about each file
(``raw.submission_warnings``: date order guessed, encoding fallback, untrusted NIKs, dropped
columns, unit rescaling), per submission, so an operator can see it.

Aggregates only: a nulled value as read (``original_value``) is never selected, and every text
goes through :func:`pipelines.reports.render.text` (long digit runs masked).
"""

from __future__ import annotations

from pipelines.reports import render as r
from pipelines.reports.queries import _dicts

TOP_SUBMISSIONS = 20


def nulled_values(con, run_id: str | None) -> list[dict]:
    """Values nulled in landed rows by stream x column x reason, most frequent first."""
    return _dicts(con, """
        select stream, column_name, reason_code,
            count(*) filter (where run_id = $run) as n_run,
            count(*) as n_total,
            count(distinct submission_id) as n_files
        from quarantine.rejected_values
        group by all
        order by n_total desc, stream, column_name, reason_code
        limit 50
        """, {"run": run_id})


def values_reconciled(con, run_id: str | None) -> list[dict]:
    """Per stream: values the parser counted as nulled (raw.submissions) and values recorded."""
    scope = "s.run_id = $run" if run_id else "true"
    return _dicts(con, f"""
        with recorded as (
            select submission_id, count(*) as n from quarantine.rejected_values group by all
        )
        select s.stream, count(*) as n_files, coalesce(sum(s.n_values_nulled), 0) as n_counted,
            coalesce(sum(recorded.n), 0) as n_recorded
        from raw.submissions as s
        left join recorded using (submission_id)
        where s.status = 'accepted' and {scope}
        group by all
        order by s.stream
        """, {"run": run_id} if run_id else None)


def warning_codes(con, run_id: str | None) -> list[dict]:
    """Parser warnings by stream x code: submissions and rows concerned, this run and in total."""
    return _dicts(con, """
        select stream, code,
            count(distinct submission_id) filter (where run_id = $run) as n_files_run,
            count(distinct submission_id) as n_files,
            sum(n_rows) as n_rows
        from raw.submission_warnings
        group by all
        order by n_files desc, stream, code
        """, {"run": run_id})


def submission_warnings(con, run_id: str | None, limit: int = TOP_SUBMISSIONS) -> tuple[int, list[dict]]:
    """The warnings of this run's submissions (every run's when ``run_id`` is None): how many, and the
    ``limit`` that concern the most rows."""
    scope = "w.run_id = $run" if run_id else "true"
    params = {"run": run_id} if run_id else None
    total = con.execute(f"select count(*) from raw.submission_warnings as w where {scope}", params).fetchall()[0][0]
    rows = _dicts(con, f"""
        select w.stream, w.file_name, s.submitter_code, s.period, w.code, w.n_rows, w.detail
        from raw.submission_warnings as w
        left join raw.submissions as s using (submission_id)
        where {scope}
        order by w.n_rows desc nulls last, w.stream, w.file_name, w.code
        limit {int(limit)}
        """, params)
    return int(total), rows


def section(con, run_id: str | None, tables: set[str], facts) -> str:
    """Values nulled (rows kept) and the parser's assumptions per submission; sets
    ``facts.values_nulled`` and ``facts.top_warnings`` for the Markdown summary."""
    out = ""
    if "quarantine.rejected_values" in tables:
        values = nulled_values(con, run_id)
        facts.values_nulled = sum(x["n_run" if run_id else "n_total"] for x in values)
        out += ("<h3>Values nulled, rows kept (Nilai dikosongkan, baris tetap masuk)</h3>"
                '<p class="note">A bad value loses only itself: it is nulled, recorded in quarantine.rejected_values '
                "with its reason, and the row lands for every indicator that stays valid (a height of 0 costs HAZ "
                "and WHZ, not WAZ).</p>")
        out += r.table(
            ["Stream", "Column", "Reason code", *(["This run"] if run_id else []), "Values", "Files"],
            [[x["stream"], x["column_name"], x["reason_code"], *([x["n_run"]] if run_id else []), x["n_total"],
              x["n_files"]] for x in values])
        if "raw.submissions" in tables:
            recon = values_reconciled(con, run_id)
            out += r.table(
                ["Stream", "Files", "Values nulled (counted by the parser)", "Recorded", "Status"],
                [[x["stream"], x["n_files"], x["n_counted"], x["n_recorded"],
                  r.Cell(r.badge("OK", "ok") if x["n_counted"] == x["n_recorded"] else r.badge("NOT OK", "bad"))]
                 for x in recon],
                ["" if x["n_counted"] == x["n_recorded"] else "failed" for x in recon])
    else:
        out += r.missing_table("quarantine.rejected_values")
    if "raw.submission_warnings" in tables:
        out += _warnings(con, run_id, facts)
    else:
        out += r.missing_table("raw.submission_warnings")
    return out


def _warnings(con, run_id: str | None, facts) -> str:
    codes = warning_codes(con, run_id)
    facts.top_warnings = [x for x in codes if (x["n_files_run"] if run_id else x["n_files"])][:5]
    out = ("<h3>What the parser assumed (Asumsi parser)</h3>"
           '<p class="note">Kept per submission in raw.submission_warnings. date_order_guessed: slash dates read '
           "as d/m/y; encoding_fallback: not UTF-8; nik_untrusted: NIKs that arrived as numbers (Excel keeps 15 "
           "digits), never used as an identity; nik_fallback: child id from name, birth date and village; "
           "column_dropped / column_duplicate: headers not used; unit_rescaled: grams or millimetres rescaled; "
           "sheet_ignored: only the first sheet read.</p>")
    out += r.table(
        ["Stream", "Code", *(["Submissions this run"] if run_id else []), "Submissions", "Rows concerned"],
        [[x["stream"], x["code"], *([x["n_files_run"]] if run_id else []), x["n_files"], x["n_rows"]]
         for x in codes])
    total, rows = submission_warnings(con, run_id)
    scope = "this run's submissions" if run_id else "all submissions"
    shown = f" (the {len(rows)} concerning the most rows shown)" if total > len(rows) else ""
    out += f"<h3>Warnings of {scope} (Peringatan per berkas): {total:,}{shown}</h3>" + r.table(
        ["Stream", "File", "Submitter", "Period", "Code", "Rows", "Detail"],
        [[x["stream"], x["file_name"], x["submitter_code"], x["period"], x["code"], x["n_rows"], x["detail"]]
         for x in rows])
    return out
