"""Report section "Set aside by operators": every submission an operator set aside
(``konvergensi set-aside``), who did it, when and why. Its rows stay in raw; none reach staging
or the marts until it is re-included. Reads ``staging.stg_submissions``, where the rule lives."""

from __future__ import annotations

from pipelines.reports import render as r

TITLE = "Set aside by operators (Disisihkan operator)"

SQL = """
select submission_id, stream, file_name, period, version, n_source_rows, n_rows_rejected,
    set_aside_by, set_aside_at, set_aside_reason
from staging.stg_submissions
where is_set_aside
order by set_aside_at desc, submission_id
"""


def rows(con, tables: set[str]) -> list[tuple] | None:
    """The set-aside submissions, newest decision first; ``None`` when staging has no such column yet."""
    if "staging.stg_submissions" not in tables:
        return None
    columns = {c for (c,) in con.execute(
        "select column_name from information_schema.columns "
        "where table_schema = 'staging' and table_name = 'stg_submissions'").fetchall()}
    if "is_set_aside" not in columns:
        return None
    return con.execute(SQL).fetchall()


def section(con, tables: set[str], facts=None) -> str:
    """The section's HTML; ``facts.n_set_aside`` (the Markdown summary's count) is set when given."""
    found = rows(con, tables)
    if facts is not None:
        facts.n_set_aside = len(found or [])
    if found is None:
        return r.missing_table("staging.stg_submissions (with is_set_aside)")
    note = (
        '<p class="note">Submissions an operator set aside: kept in raw, left out of staging and the marts '
        "(the previous version, if any, counts instead). Re-include one with "
        "<code>konvergensi set-aside --undo ID --operator NAME --reason TEXT</code> (docs/operations.md).</p>"
    )
    body = [
        [sid, stream, name, period, version, r.num(n), r.num(rejected), by, f"{at:%Y-%m-%d %H:%M} UTC", reason]
        for sid, stream, name, period, version, n, rejected, by, at, reason in found
    ]
    return note + r.table(
        ["Submission id", "Stream", "File", "Period", "Version", "Rows read", "Rows rejected", "Operator",
         "Set aside at", "Reason"],
        body,
    )
