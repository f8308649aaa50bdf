"""What did not land, and for how long it stays listed: refused files until their content lands or
a newer file takes their name; thin submissions while they are the latest version. Built on the
tables as pipelines/tables.py declares them (real DuckDB, no mocks)."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from pipelines import tables
from pipelines.reports.not_landed import LIST_LIMIT, NotLanded, remedy
from pipelines.reports.submission_sections import not_landed_box

RUN, EARLIER = "run-today", "run-yesterday"
YESTERDAY, TODAY = dt.datetime(2024, 9, 1, 2), dt.datetime(2024, 9, 2, 2)
BAD_NAME = "Data Pengukuran Balita Agustus 2024.csv"


def _warehouse(refused: list[tuple], submissions: list[tuple], rejected_rows: list[tuple] = ()):
    """``refused``: (file_name, reason_code, sha, run_id, rejected_at); ``submissions``:
    (id, file_name, submitter, period, version, status, sha, n_read, n_landed, run_id, ingested_at)."""
    con = duckdb.connect()
    for name in ("raw.submissions", "quarantine.rejected_files", "quarantine.rejected_rows"):
        con.execute(f"create schema if not exists {name.split('.')[0]}")
        tables.create(con, name)
    for file_name, reason, sha, run_id, at in refused:
        sid = f"x-{file_name}-{sha}"
        con.execute(
            "insert into quarantine.rejected_files values ('child_measurements', ?, ?, 'landing', ?, ?, ?, ?, ?)",
            [sid, file_name, reason, f"{file_name!r}: expected <submitter_code>_<period>", sha, run_id, at])
        submissions = [*submissions, (sid, file_name, None, None, None, "rejected_file", sha, 0, 0, run_id, at)]
    for sid, file_name, submitter, period, version, status, sha, n_read, n_landed, run_id, at in submissions:
        con.execute(
            "insert into raw.submissions (submission_id, stream, submitter_level, submitter_code, period, version, "
            "file_name, file_format, transport, received_at, ingested_at, run_id, content_sha256, size_bytes, status, "
            "n_source_rows, n_rows_accepted, n_rows_rejected) values (?, 'child_measurements', 'village', ?, ?, ?, "
            "?, 'csv', 'landing', ?, ?, ?, ?, 100, ?, ?, ?, ?)",
            [sid, submitter, period, version, file_name, at, at, run_id, sha, status, n_read, n_landed,
             n_read - n_landed])
    for sid, row_number, reason in rejected_rows:
        con.execute(
            "insert into quarantine.rejected_rows (stream, submission_id, row_number, column_name, reason_code) "
            "values ('child_measurements', ?, ?, 'weight_kg', ?)", [sid, row_number, reason])
    return con


def test_a_refusal_stays_listed_until_its_content_lands_or_a_new_file_takes_its_name():
    con = _warehouse(
        refused=[
            (BAD_NAME, "bad_file_name", "sha-a", RUN, TODAY),  # this run
            ("Data September.csv", "bad_file_name", "sha-b", EARLIER, YESTERDAY),  # still sitting there
            ("Data Juli.csv", "bad_file_name", "sha-c", EARLIER, YESTERDAY),  # renamed: its content landed
            ("36.04.15.2002_2024-08.csv", "missing_columns", "sha-d", EARLIER, YESTERDAY),  # replaced in place
        ],
        submissions=[
            ("s-c", "36.04.15.2003_2024-07.csv", "36.04.15.2003", "2024-07", 1, "accepted", "sha-c", 4, 4, RUN, TODAY),
            ("s-d", "36.04.15.2002_2024-08.csv", "36.04.15.2002", "2024-08", 1, "accepted", "sha-e", 4, 4, RUN, TODAY),
        ],
    )
    found = NotLanded.find(con, RUN)
    assert [(f.file_name, f.is_this_run) for f in found.refused] == [
        (BAD_NAME, True), ("Data September.csv", False)]
    assert found.thin == [] and found.headline == "2 files refused"
    # without a run, only what is still waiting (here: both, neither has landed)
    assert [f.file_name for f in NotLanded.find(con, None).refused] == [BAD_NAME, "Data September.csv"]


def test_a_refusal_of_this_run_is_listed_even_if_its_content_landed_before():
    con = _warehouse(
        refused=[(BAD_NAME, "bad_file_name", "sha-a", RUN, TODAY)],
        submissions=[("s-a", "36.04.15.2001_2024-08.csv", "36.04.15.2001", "2024-08", 1, "accepted", "sha-a", 2, 2,
                      EARLIER, YESTERDAY)],
    )
    assert [f.file_name for f in NotLanded.find(con, RUN).refused] == [BAD_NAME]
    assert NotLanded.find(con, "a later run").refused == []


def test_a_thin_submission_stays_listed_while_it_is_the_latest_version():
    village = "36.04.15.2001"
    con = _warehouse(
        refused=[],
        submissions=[
            ("s1", f"{village}_2024-07.csv", village, "2024-07", 1, "accepted", "h1", 4, 1, EARLIER, YESTERDAY),
            ("s2", f"{village}_2024-08.csv", village, "2024-08", 1, "accepted", "h2", 4, 1, EARLIER, YESTERDAY),
            ("s3", f"{village}_2024-08_revisi.csv", village, "2024-08", 2, "accepted", "h3", 4, 4, RUN, TODAY),
            ("s4", "36.04.15.2002_2024-08.csv", "36.04.15.2002", "2024-08", 1, "accepted", "h4", 4, 2, RUN, TODAY),
            ("s5", "36.04.15.2003_2024-08.csv", "36.04.15.2003", "2024-08", 1, "accepted", "h5", 5, 2, RUN, TODAY),
        ],
        rejected_rows=[("s5", 2, "invalid_number"), ("s5", 3, "invalid_number"), ("s5", 4, "invalid_date"),
                       ("s5", 4, "invalid_number")],
    )
    found = NotLanded.find(con, RUN)
    # s5 this run (2 of 5); s1 earlier but still July's latest; s2 replaced by its revision; s4 exactly half
    assert [(s.file_name, s.is_this_run) for s in found.thin] == [
        ("36.04.15.2003_2024-08.csv", True), (f"{village}_2024-07.csv", False)]
    assert found.thin[0].reasons == "invalid_number (3 rows), invalid_date (1 row)"
    assert found.thin[0].line() == (
        "child_measurements/36.04.15.2003_2024-08.csv (this run): 2 of 5 rows landed; "
        "rejected: invalid_number (3 rows), invalid_date (1 row)")
    assert found.headline == "2 submissions landed under half their rows"


def test_remedies_name_the_pattern_of_the_stream():
    assert "36.04.15.2001_2024-08.csv" in remedy("bad_file_name", "child_measurements", BAD_NAME)
    assert "36.04_2024.xlsx" in remedy("bad_file_name", "aksi_reports", "Laporan Aksi.xlsx")
    assert "DINKES_2024-Q3.json" in remedy("bad_file_name", "opd_programmes", "dinkes.JSON")
    assert "required column" in remedy("missing_columns", "households", "36.04.15.2001_2024.csv")
    assert remedy("something_new", "households", "x.csv").startswith("read the detail")
    assert "36.04.15.2001_2024.csv" in remedy("period_unknown", "households", "P3KE Desa Cikande.csv")
    assert "with its year" in remedy("period_unknown", "households", "P3KE Desa Cikande.csv")
    assert remedy("submitter_unknown", "child_measurements", "Data Balita.csv").startswith("fix the columns")


def test_lines_show_detail_without_repeating_the_name_and_never_a_nik():
    con = _warehouse(refused=[(BAD_NAME, "bad_file_name", "sha-a", RUN, TODAY)], submissions=[])
    con.execute("update quarantine.rejected_files set detail = 'missing_columns: Berat (first cell 3601010101010001)', "
                "reason_code = 'missing_columns'")
    (line, todo) = NotLanded.find(con, RUN).lines()[1:]
    assert line == (f"  child_measurements/{BAD_NAME} (landing, this run): missing_columns: "
                    "Berat (first cell [angka disamarkan])")
    assert todo.startswith("    what to do: export it again")


def test_long_lists_are_capped_with_a_count_of_the_rest():
    many = [(f"data {i}.csv", "bad_file_name", f"sha-{i}", RUN, TODAY) for i in range(LIST_LIMIT + 3)]
    found = NotLanded.find(_warehouse(refused=many, submissions=[]), RUN)
    lines = found.lines()
    assert lines[0] == f"refused files ({LIST_LIMIT + 3}):"
    assert len(lines) == 1 + 2 * LIST_LIMIT + 1
    assert lines[-1].startswith("  … and 3 more (quarantine.rejected_files")


@pytest.mark.parametrize("missing", ["raw.submissions", "quarantine.rejected_files", "quarantine.rejected_rows"])
def test_missing_tables_give_what_can_be_read(missing):
    con = _warehouse(
        refused=[(BAD_NAME, "bad_file_name", "sha-a", RUN, TODAY)],
        submissions=[("s1", "36.04.15.2001_2024-08.csv", "36.04.15.2001", "2024-08", 1, "accepted", "h1", 4, 1,
                      RUN, TODAY)],
    )
    con.execute(f"drop table {missing}")
    found = NotLanded.find(con, RUN)
    assert len(found.refused) == (0 if missing != "quarantine.rejected_rows" else 1)
    assert len(found.thin) == (0 if missing == "raw.submissions" else 1)


def test_the_headline_box_names_file_reason_and_remedy():
    con = _warehouse(refused=[(BAD_NAME, "bad_file_name", "sha-a", RUN, TODAY)], submissions=[])
    box = not_landed_box(NotLanded.find(con, RUN))
    assert box.startswith('<div class="alert">') and "1 file refused" in box
    assert BAD_NAME in box and "bad_file_name" in box and "36.04.15.2001_2024-08.csv" in box
    assert not_landed_box(NotLanded()) == ""
