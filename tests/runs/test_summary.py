"""The run summary `konvergensi run` prints: files that did not land are named with their reason and
what to do, and a run whose only failures are WARN checks exits 0."""

from __future__ import annotations

import datetime as dt

from pipelines.reports.not_landed import LIST_LIMIT, NotLanded, RefusedFile, ThinSubmission
from pipelines.runs.summary import RunSummary
from tests.checks.test_refusals import BAD_NAME, THIN, write_landing


def _refused(name: str, this_run: bool = True) -> RefusedFile:
    return RefusedFile("child_measurements", name, "landing", "bad_file_name",
                       f"{name!r}: expected <submitter_code>_<period>[_note].<csv|xlsx|json>",
                       dt.datetime(2024, 9, 1, 2), this_run)


def test_the_summary_names_refused_files_and_thin_submissions():
    thin = ThinSubmission("child_measurements", THIN, "36.04.15.2001", "2024-08", 4, 1,
                          "invalid_number (3 rows)", dt.datetime(2024, 9, 2, 2), True)
    summary = RunSummary(True, "r1", 1.0, checks_failed=["raw.submissions:every_file_lands_at_least_half_its_rows (WARN)"],
                         not_landed=NotLanded([_refused(BAD_NAME), _refused("old.csv", this_run=False)], [thin]))
    text = summary.render()
    assert "checks: 0 passed, 0 failed (ERROR, blocking), 1 warnings" in text
    assert "not landed (WARN, does not block): 2 files refused, 1 submission landed under half its rows" in text
    assert (f"    child_measurements/{BAD_NAME} (landing, this run): bad_file_name: "
            "expected <submitter_code>_<period>[_note].<csv|xlsx|json>") in text
    assert "    child_measurements/old.csv (landing, refused 2024-09-01): bad_file_name" in text
    assert "      what to do: rename it <village code>_<month>.csv, e.g. 36.04.15.2001_2024-08.csv" in text
    assert f"    child_measurements/{THIN} (this run): 1 of 4 rows landed; rejected: invalid_number (3 rows)" in text
    # the block sits with the checks, before the quarantine counts
    assert text.index("not landed") < text.index("quarantine:")


def test_the_summary_counts_values_nulled_and_parser_warnings():
    text = RunSummary(True, "r1", 1.0, quarantined_rows={"unknown_village": 3},
                      nulled_values={"missing_value": 28, "weight_out_of_range": 27},
                      parser_warnings={"nik_fallback": 40, "date_order_guessed": 2}).render()
    assert "values nulled, rows kept: 55" in text and "  weight_out_of_range                    27" in text
    assert "parser warnings (submissions; raw.submission_warnings): nik_fallback 40, date_order_guessed 2" in text
    assert text.index("quarantine:") < text.index("values nulled")


def test_a_long_list_is_capped():
    many = [_refused(f"export {i}.csv") for i in range(LIST_LIMIT + 5)]
    text = RunSummary(True, "r1", 1.0, not_landed=NotLanded(many)).render()
    assert f"  refused files ({LIST_LIMIT + 5}):" in text
    assert "  … and 5 more (quarantine.rejected_files; the quality report lists them)" in text
    assert "export 10.csv" not in text


def test_nothing_to_say_when_everything_landed():
    assert "not landed" not in RunSummary(True, "r1", 1.0).render()


def test_cli_run_prints_the_refused_file_and_exits_0_on_warnings_only(isolated_env, monkeypatch, capsys):
    from pipelines import cli

    monkeypatch.setenv("KONVERGENSI_LANDING_DIR", str(write_landing(isolated_env / "landing")))
    monkeypatch.setenv("KONVERGENSI_PSEUDONYM_KEY", "summary-test-key-0123456789abcdef")
    assert cli.main(["run", "--period", "2024-08"]) == 0
    out = capsys.readouterr().out
    assert ", 0 failed (ERROR, blocking)" in out
    assert "WARN   raw.submissions:every_file_lands_at_least_half_its_rows (WARN)" in out
    assert f"households/{BAD_NAME} (landing, this run): period_unknown" in out
    assert f"child_measurements/{THIN} (this run): 1 of 4 rows landed" in out


def _result(materialized: dict | None = None, selection=None):
    """A run result with what `_publish_outcome` reads: the publish materialisation (its metadata)
    if any, and the run's asset selection."""
    from types import SimpleNamespace

    from dagster import AssetKey, MetadataValue

    from pipelines.assets.publish import PUBLISH_KEY

    events = [] if materialized is None else [SimpleNamespace(asset_key=PUBLISH_KEY, materialization=SimpleNamespace(
        metadata={k: MetadataValue.bool(v) if isinstance(v, bool) else MetadataValue.text(v)
                  for k, v in materialized.items()}))]
    selection = None if selection is None else {AssetKey(p.split("/")) for p in selection}
    return SimpleNamespace(get_asset_materialization_events=lambda: events,
                           dagster_run=SimpleNamespace(asset_selection=selection))


def test_the_summary_says_why_the_file_was_not_published():
    summary = RunSummary(False, "r1", 1.0, checks_failed=["marts.dim_region:region_code_unique (ERROR)",
                                                          "raw.submissions:late (WARN)"])
    outcome = summary._publish_outcome(_result())
    assert outcome == ("NOT published, BI keeps the previous file "
                       "(1 blocking check(s) failed: marts.dim_region:region_code_unique (ERROR))")
    summary.publish = outcome
    assert "publish: NOT published" in summary.render()
    failed_step = RunSummary(False, "r1", 1.0, failures=["ingest_submissions: KONVERGENSI_PSEUDONYM_KEY is not set"])
    assert failed_step._publish_outcome(_result()).endswith(
        "(a step failed: ingest_submissions: KONVERGENSI_PSEUDONYM_KEY is not set)")
    one_mart = RunSummary(True, "r1", 1.0)._publish_outcome(_result(selection=["marts/dim_region"]))
    assert one_mart == "not selected in this run: the published file is as it was"
    assert RunSummary(True, "r1", 1.0)._publish_outcome(
        _result({"published_path": "/wh/banten.duckdb", "unchanged": False})) == "published /wh/banten.duckdb"
    assert RunSummary(True, "r1", 1.0)._publish_outcome(
        _result({"published_path": "/wh/banten.duckdb", "unchanged": True})).startswith("unchanged: /wh/banten.duckdb")
