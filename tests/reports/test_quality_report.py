"""The per-run quality report, rendered from a small hand-built warehouse (real DuckDB file, no mocks)."""

from __future__ import annotations

import json
import random
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import duckdb
import pytest

from pipelines.reports import build_quality_report

RUN = "run-0002"
FAKE_NIK = "3601010101010001"
FAKE_NAME = "SITI CONTOH"
BAD_FILE = "36.01.01.2002_2024-08.csv"
VILLAGES = ["36.01.01.2001", "36.01.01.2002", "36.71.01.1001", "36.71.01.1002"]
TITLES = [
    "Headline (Ringkasan)",
    "Check outcomes (Hasil pemeriksaan)",
    "Quarantine (Karantina)",
    "Plots (Grafik)",
    "Data-quality flags (Penanda kualitas data)",
    "Completeness (Kelengkapan laporan)",
]
CHECK_KEYS = ("asset", "check", "passed", "severity", "description", "metadata")
CHECKS = [
    dict(zip(CHECK_KEYS, values, strict=True))
    for values in [
        ("raw/submissions", "passes_fine", True, "ERROR", "all good", {"n": 1}),
        (
            "marts/fct_growth_data_quality",
            "warn_check_failed",
            False,
            "WARN",
            "too much rounding",
            "12 of 40",
        ),
        (
            "quarantine/superseded",
            "error_check_failed",
            False,
            "AssetCheckSeverity.ERROR",
            "gone",
            {"landed": 3},
        ),
    ]
]


def _create(con: duckdb.DuckDBPyConnection, with_marts: bool, with_validation: bool) -> None:
    con.execute("create schema raw; create schema quarantine; create schema marts")
    con.execute(
        """
        create table raw.submissions (submission_id varchar, stream varchar, submitter_level varchar,
            submitter_code varchar, period varchar, version integer, file_name varchar, transport varchar,
            received_at timestamp, run_id varchar, status varchar, n_source_rows integer,
            n_rows_accepted integer, n_rows_rejected integer, error varchar)
        """
    )
    subs = [
        (
            "s1",
            "child_measurements",
            "village",
            VILLAGES[0],
            "2024-07",
            1,
            f"{VILLAGES[0]}_2024-07.csv",
            "portal",
            "run-0001",
            "accepted",
            30,
            28,
            2,
            None,
        ),
        (
            "s2",
            "child_measurements",
            "village",
            VILLAGES[0],
            "2024-08",
            1,
            f"{VILLAGES[0]}_2024-08.csv",
            "portal",
            RUN,
            "accepted",
            25,
            22,
            3,
            None,
        ),
        (
            "s3",
            "child_measurements",
            "village",
            VILLAGES[2],
            "2024-08",
            1,
            f"{VILLAGES[2]}_2024-08.xlsx",
            "landing",
            RUN,
            "accepted",
            26,
            26,
            0,
            None,
        ),
        (
            "s4",
            "child_measurements",
            "village",
            VILLAGES[1],
            "2024-08",
            None,
            BAD_FILE,
            "portal",
            RUN,
            "rejected_file",
            0,
            0,
            0,
            "missing_columns: Berat",
        ),
        (
            "s5",
            "households",
            "village",
            VILLAGES[3],
            "2024",
            1,
            f"{VILLAGES[3]}_2024.csv",
            "landing",
            RUN,
            "accepted",
            10,
            10,
            0,
            None,
        ),
    ]
    con.executemany(
        "insert into raw.submissions values (?, ?, ?, ?, ?, ?, ?, ?, timestamp '2024-09-01 03:00', ?, ?, ?, ?, ?, ?)",
        subs,
    )
    # columns the report reads beyond the counts (raw.submissions as pipelines/tables.py declares it)
    con.execute(
        "alter table raw.submissions add column ingested_at timestamp default timestamp '2024-09-01 03:00';"
        "alter table raw.submissions add column file_format varchar default 'csv';"
        "alter table raw.submissions add column content_sha256 varchar;"
        "update raw.submissions set content_sha256 = 'sha-' || submission_id"
    )
    con.execute(
        """
        create table quarantine.rejected_rows (stream varchar, submission_id varchar, file_name varchar,
            row_number integer, column_name varchar, reason_code varchar, detail varchar, payload json,
            run_id varchar, rejected_at timestamp)
        """
    )
    payload = json.dumps({"nik": FAKE_NIK, "name": FAKE_NAME, "weight_kg": "-3"})
    rejects = [
        ("s1", 4, "weight_kg", "weight_out_of_range", "run-0001"),
        ("s1", 9, "birth_date", "invalid_date", "run-0001"),
        ("s2", 2, "weight_kg", "weight_out_of_range", RUN),
        ("s2", 5, "birth_date", "birth_after_measurement", RUN),
        ("s2", 7, "village_name", "unknown_village", RUN),
    ]
    con.executemany(
        "insert into quarantine.rejected_rows values ('child_measurements', ?, 'f.csv', ?, ?, ?, "
        "'see payload', ?, ?, now())",
        [(s, n, col, reason, payload, run) for s, n, col, reason, run in rejects],
    )
    con.execute(
        """
        create table quarantine.rejected_files (stream varchar, submission_id varchar, file_name varchar,
            transport varchar, reason_code varchar, detail varchar, content_sha256 varchar, run_id varchar,
            rejected_at timestamp)
        """
    )
    # a loader that pasted a cell into its error message must not get the NIK published
    con.execute(
        "insert into quarantine.rejected_files values ('child_measurements', 's4', ?, 'portal', 'missing_columns', "
        "?, 'abc', ?, now())",
        [BAD_FILE, f"missing_columns: Berat (first cell {FAKE_NIK})", RUN],
    )
    if with_marts:
        _create_marts(con)
    if with_validation:
        con.execute(
            """
            create table raw.submission_validation (submission_id varchar, stream varchar, suite_name varchar,
                success boolean, n_expectations integer, n_failed integer, failed_expectations json)
            """
        )
        failed = json.dumps(
            [
                # the gx_runner shape, plus raw GX sample values that must stay unread
                {
                    "expectation": "expect_column_values_to_match_regex",
                    "check": "nik_is_16_digits",
                    "column": "nik",
                    "n_unexpected": 4,
                    "partial_unexpected_list": [FAKE_NIK, FAKE_NAME],
                },
                "expect_table_row_count_to_be_between",
            ]
        )
        con.execute(
            "insert into raw.submission_validation values ('s2', 'child_measurements', 'child_suite', false, 9, 1, ?),"
            " ('s3', 'child_measurements', 'child_suite', true, 9, 0, '[]')",
            [failed],
        )


def _create_marts(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """
        create table marts.dim_region as select * from (values
            ('36', 'province', 'Banten', null, null),
            ('36.01', 'regency', 'Kabupaten Pandeglang', '36.01', 'Kabupaten Pandeglang'),
            ('36.71', 'regency', 'Kota Tangerang', '36.71', 'Kota Tangerang'),
            ('36.01.01.2001', 'village', 'Sukamaju', '36.01', 'Kabupaten Pandeglang'),
            ('36.01.01.2002', 'village', 'Sukamulya', '36.01', 'Kabupaten Pandeglang'),
            ('36.71.01.1001', 'village', 'Cibodas', '36.71', 'Kota Tangerang'),
            ('36.71.01.1002', 'village', 'Panunggangan', '36.71', 'Kota Tangerang')
        ) as t (region_code, region_level, region_name, regency_code, regency_name)
        """
    )
    rng = random.Random(7)
    rows = []
    for i in range(60):
        village = VILLAGES[i % 4]
        haz = round(rng.gauss(-1.0, 1.1), 2)
        rows.append(
            (
                f"c{i}",
                village,
                "2024-08" if i % 3 else "2024-07",
                400 + i * 10,
                1 + i % 2,
                round(rng.uniform(6, 18), 1),
                round(rng.choice([70.0, 80.5, 90.0, 85.3, 77.0]), 1),
                "l" if i % 2 else "h",
                haz,
                haz > 6 or haz < -6,
                f"s{1 + i % 3}",
            )
        )
    con.execute(
        """
        create table marts.fct_child_measurement (child_id varchar, village_code varchar, period varchar,
            age_days bigint, sex bigint, weight_kg double, lenhei_cm double, measure varchar, haz double,
            flag_haz boolean, submission_id varchar)
        """
    )
    con.executemany("insert into marts.fct_child_measurement values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    con.execute(
        """
        create table marts.fct_stunting_prevalence as select * from (values
            ('36.01', 'regency', '2024-08', 'stunting', 20, 6, 2, 30.0, 14.5, 51.9),
            ('36.71', 'regency', '2024-08', 'stunting', 20, 2, 0, 10.0, 2.8, 30.1),
            ('36', 'province', '2024-08', 'stunting', 40, 8, 2, 20.0, 10.5, 34.8)
        ) as t (region_code, region_level, period, indicator, n_children, n_cases, n_severe, pct_prevalence_pooled,
                ci_low, ci_high)
        """
    )
    con.execute(
        """
        create table marts.fct_growth_data_quality as select * from (values
            ('posyandu', 'a', 'MAWAR 1', '36.01.01.2001', '2024-08', 25, 0.41, 62.0, 30.0, 16.0),
            ('puskesmas', 'b', 'CIBODAS', '36.71', '2024-08', 40, 1.10, 12.0, 8.0, 4.0),
            ('village', 'c', '36.01.01.2002', '36.01.01.2002', '2024-08', 5, 3.9, 99.0, 99.0, 80.0)
        ) as t (unit_level, unit_key, unit_name, region_code, period, n_measurements, sd_haz, dps_height,
                dps_weight, pct_wrong_position)
        """
    )
    con.execute(
        """
        create table marts.mart_submission_completeness as select * from (values
            ('child_measurements', 'village', '36.01.01.2001', '2024-08', true, true, 'on_time'),
            ('child_measurements', 'village', '36.01.01.2002', '2024-08', true, false, 'rejected_only'),
            ('child_measurements', 'village', '36.71.01.1001', '2024-08', true, true, 'late'),
            ('child_measurements', 'village', '36.71.01.1002', '2024-08', true, false, 'missing')
        ) as t (stream, submitter_level, submitter_code, period, is_expected_submitter, is_submitted,
                submission_status)
        """
    )


def _warehouse(
    path: Path, with_marts: bool = True, with_validation: bool = True
) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    _create(con, with_marts, with_validation)
    con.close()
    # the report must need nothing more than a read-only connection
    return duckdb.connect(str(path), read_only=True)


@pytest.fixture(scope="module")
def full_report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    con = _warehouse(tmp / "wh.duckdb")
    try:
        result = build_quality_report(con, tmp / "out", RUN, CHECKS)
    finally:
        con.close()
    return result, result.html_path.read_text(encoding="utf-8")


def test_writes_run_file_and_latest_copy(full_report):
    result, html = full_report
    assert result.html_path.name == f"quality_{RUN}.html"
    latest = result.html_path.parent / "latest.html"
    assert latest.read_text(encoding="utf-8") == html
    assert "<script" not in html and "http://" not in html and "https://" not in html


def test_contains_every_section_reason_and_rejected_file(full_report):
    _, html = full_report
    for title in [*TITLES, "Validation suites (Validasi berkas)"]:
        assert title in html
    for reason in (
        "weight_out_of_range",
        "invalid_date",
        "birth_after_measurement",
        "unknown_village",
        "missing_columns",
    ):
        assert reason in html
    assert BAD_FILE in html
    assert "expect_column_values_to_match_regex" in html and "nik_is_16_digits" in html
    assert "expect_table_row_count_to_be_between" in html
    # submitter named from dim_region
    assert "Sukamaju" in html


def test_embeds_at_least_two_svg_figures(full_report):
    result, html = full_report
    images = re.findall(r'<figure class="plot" aria-label="[^"]+">(<svg .*?</svg>)</figure>', html, re.S)
    assert len(images) >= 2
    for svg in images:
        assert ET.fromstring(svg).tag == "svg"  # well-formed
    assert {"haz_by_regency", "terminal_digits"} <= set(result.figures)
    assert set(result.figures.values()) <= set(images)


def test_planted_personal_data_never_reaches_html_or_markdown(full_report):
    result, html = full_report
    for secret in (FAKE_NIK, FAKE_NAME, FAKE_NAME.title()):
        assert secret not in html
        assert secret not in result.markdown


def test_reconciliation_and_headline_numbers(full_report):
    result, html = full_report
    # this run: s2, s3 and s5 accepted (22 + 26 + 10 landed, 3 quarantined), s4 rejected as a file
    assert "Rows landed: 58; rows quarantined: 3; files rejected: 1" in result.markdown
    assert "Submissions received: 4 this run / 5 total" in result.markdown
    assert "Reconciliation (read = landed + quarantined): OK" in result.markdown
    assert "NOT OK" not in html


def test_failed_checks_come_first_error_before_warn(full_report):
    result, html = full_report
    error_at, warn_at, passed_at = (
        html.index(name) for name in ("error_check_failed", "warn_check_failed", "passes_fine")
    )
    assert error_at < warn_at < passed_at
    assert "FAILED · ERROR" in html and "FAILED · WARN" in html
    assert "**ERROR** `quarantine/superseded` error_check_failed" in result.markdown


def test_markdown_is_short_and_points_at_the_html(full_report):
    result, _ = full_report
    lines = result.markdown.splitlines()
    assert len(lines) <= 40
    assert str(result.html_path) in lines[-1]
    assert "weight_out_of_range" in result.markdown


def test_data_quality_flags_skip_small_units(full_report):
    _, html = full_report
    flags = html[html.index('id="flags"') : html.index('id="completeness"')]
    assert "MAWAR 1" in flags
    # 5 measurements: too few to judge, even with an SD of 3.9
    assert "3.90" not in flags


def test_reconciliation_not_ok_when_counts_disagree(tmp_path):
    con = _warehouse(tmp_path / "wh.duckdb", with_marts=False, with_validation=False)
    con.close()
    with duckdb.connect(str(tmp_path / "wh.duckdb")) as rw:
        rw.execute("update raw.submissions set n_source_rows = n_source_rows + 1 where submission_id = 's2'")
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        result = build_quality_report(con, tmp_path / "out", RUN)
    assert "NOT OK" in result.html_path.read_text(encoding="utf-8")
    assert "**NOT OK** for child_measurements" in result.markdown


def test_works_without_marts_validation_or_checks(tmp_path):
    with _warehouse(tmp_path / "wh.duckdb", with_marts=False, with_validation=False) as con:
        result = build_quality_report(con, tmp_path / "out", None)
    html = result.html_path.read_text(encoding="utf-8")
    assert result.html_path.name == "quality_latest.html"
    assert (tmp_path / "out" / "latest.html").exists()
    for title in TITLES:
        assert title in html
    assert "Validation suites" not in html
    assert "marts.fct_growth_data_quality is not in the warehouse" in html
    assert result.figures == {}
    assert BAD_FILE in html and FAKE_NIK not in html


def test_works_on_an_empty_warehouse(tmp_path):
    duckdb.connect(str(tmp_path / "empty.duckdb")).close()
    with duckdb.connect(str(tmp_path / "empty.duckdb"), read_only=True) as con:
        result = build_quality_report(con, tmp_path / "out", "r1", [])
    html = result.html_path.read_text(encoding="utf-8")
    assert "raw.submissions is not in the warehouse" in html
    assert "0 passed, 0 failed" in html


def test_a_national_warehouse_gets_capped_figures():
    """400+ regencies: the HAZ panels and prevalence bars are capped and the report says so
    (one panel per regency took minutes at national scale)."""
    import duckdb

    from pipelines.reports import measurement_sections as ms

    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute("""
        create table marts.fct_child_measurement as
        select '2024-08' as period, printf('%02d.%02d.01.2001', 11 + r // 8, 1 + r % 8) as village_code,
               (random() * 4 - 2 - r / 30)::double as haz, false as flag_haz,
               80.0 + i % 10 as lenhei_cm, 10.0 + i % 7 as weight_kg
        from range(30) t(r), range(40) u(i)
    """)
    con.execute("""
        create table marts.fct_stunting_prevalence as
        select printf('%02d.%02d', 11 + r // 8, 1 + r % 8) as region_code, 'regency' as region_level,
               '2024-08' as period, 'stunting' as indicator, 100 as n_children, r as n_cases,
               r::double as pct_prevalence_pooled, greatest(r - 5, 0)::double as ci_low, (r + 5)::double as ci_high
        from range(50) t(r)
    """)
    figures: dict[str, bytes] = {}
    html = ms.plots_section(con, {"marts.fct_child_measurement", "marts.fct_stunting_prevalence"}, figures)
    assert f"Showing the {ms.MAX_HAZ_PANELS} of 30 regencies with the lowest mean HAZ" in html
    assert f"Showing the {ms.MAX_PREVALENCE_BARS} of 50 regencies with the highest prevalence" in html
    assert {"haz_by_regency", "stunting_by_regency"} <= set(figures)


def test_headline_warns_of_the_refused_file_first(full_report):
    result, html = full_report
    headline = html[html.index('id="headline"') : html.index('id="checks"')]
    box = headline[headline.index('class="alert"') : headline.index('class="cards"')]
    assert "Not landed (Tidak masuk): 1 file refused" in box
    assert BAD_FILE in box and "missing_columns" in box and "this run" in box
    assert "export it again with every required column" in box  # what to do
    assert FAKE_NIK not in box
    assert "- **Not landed (WARN)**: 1 file refused" in result.markdown
    assert f"`child_measurements/{BAD_FILE}`: missing_columns" in result.markdown
