"""The report's "Set aside by operators" section: who set which submission aside, when and why,
read from staging.stg_submissions (where the rule lives); an older warehouse shows a note."""

from __future__ import annotations

import duckdb

from pipelines.reports import set_aside_section
from pipelines.reports.queries import existing_tables


def _warehouse(with_column: bool):
    con = duckdb.connect()
    con.execute("create schema staging")
    extra = (", is_set_aside, set_aside_by, set_aside_at, set_aside_reason" if with_column else "")
    values = ("'chi-1', 'child_measurements', '36.04.15.2002_2024-08.csv', '2024-08', 1, 21, 15, true, 'Rina', "
              "timestamp '2024-09-12 03:00:00', 'dates <b>impossible</b>'")
    other = ("'chi-2', 'child_measurements', 'ok.csv', '2024-08', 1, 21, 0, false, null, null, null")
    columns = "submission_id, stream, file_name, period, version, n_source_rows, n_rows_rejected" + extra
    if with_column:
        con.execute(f"create table staging.stg_submissions as select * from (values ({values}), ({other})) t({columns})")
    else:
        con.execute(f"create table staging.stg_submissions as select * from (values ({values.rsplit(', true', 1)[0]})) "
                    f"t({columns})")
    return con


def test_lists_each_set_aside_submission_with_who_when_and_why():
    from pipelines.reports.submission_sections import Facts

    con = _warehouse(with_column=True)
    facts = Facts()
    html = set_aside_section.section(con, existing_tables(con), facts)
    assert facts.n_set_aside == 1  # the Markdown summary in the UI counts them
    assert "chi-1" in html and "chi-2" not in html
    assert "Rina" in html and "2024-09-12 03:00 UTC" in html
    assert "dates &lt;b&gt;impossible&lt;/b&gt;" in html  # operator text is escaped
    assert "konvergensi set-aside --undo" in html


def test_an_older_warehouse_without_the_column_gets_a_note():
    con = _warehouse(with_column=False)
    assert "Not available" in set_aside_section.section(con, existing_tables(con))
