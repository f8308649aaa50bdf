"""GX suites per submission format: they build, clean data passes, failures land on the right
submissions, and no result carries a cell value. Real generated files, real parser, real GX."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from pipelines.ingestion.identity import sha256_hex
from pipelines.ingestion.validation import gx_speed as speed
from pipelines.ingestion.validation.suites import DERIVED_COLUMNS, build_suite, suite_columns
from pipelines.parsing.layouts import STREAMS

WEIRD_WEIGHT = 249.75
BAD_TOKEN = "NIK3601999988887777"


@pytest.fixture(scope="module")
def runner():
    """gx_runner with its GX context built (the ~5-10 s import is paid here, once)."""
    from pipelines.ingestion.validation import runner as gx_runner

    gx_runner.gx_version()
    return gx_runner


@pytest.fixture(scope="module")
def batches(tmp_path_factory) -> dict[str, pd.DataFrame]:
    """Accepted rows of every generated submission per stream, with a submission_id column."""
    from pipelines.parsing.parse import parse_batch
    from pipelines.parsing.pseudonym import Pseudonymiser
    from pipelines.parsing.regions import RegionIndex
    from pipelines.synthetic.generate import generate
    from tests.hints import name_hints

    root = tmp_path_factory.mktemp("landing")
    generate(root, "small", 7)
    regions = RegionIndex.from_frame(pd.read_csv(root / "region_master.csv", dtype=str, keep_default_na=False))
    out = {}
    for stream in STREAMS:
        files = [(p.name, p.read_bytes()) for p in sorted((root / stream).iterdir())]
        results = parse_batch(stream, files, name_hints(stream, files), pseudonymiser=Pseudonymiser(b"k"),
                              regions=regions)
        frames = [r.rows.assign(submission_id=f"{stream[:3]}-{sha256_hex(content)[:20]}")
                  for (_, content), r in zip(files, results, strict=True) if len(r.rows)]
        out[stream] = pd.concat(frames, ignore_index=True)
    return out


def _failed(outcome: pd.DataFrame, sid: str) -> list[dict]:
    return json.loads(outcome.set_index("submission_id").loc[sid, "failed_expectations"])


def _first_ids(frame: pd.DataFrame, n: int) -> list[str]:
    return list(dict.fromkeys(frame["submission_id"]))[:n]


def test_importing_the_modules_does_not_import_gx():
    code = ("import sys, pipelines.ingestion.validation.suites, pipelines.ingestion.validation.runner; "
            "sys.exit(1 if 'great_expectations' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@pytest.mark.parametrize("stream", STREAMS)
def test_every_stream_suite_builds_on_parsed_columns(runner, batches, stream):
    suite = build_suite(stream)
    checks = [e.meta["check"] for e in suite.expectations]
    assert suite.name == f"{stream}_submission" and len(checks) >= 8
    assert len(set(checks)) == len(checks), "every expectation names a distinct property"
    assert checks[0] == "parsed_columns_present"
    known = set(batches[stream].columns) | set(DERIVED_COLUMNS.get(stream, ()))
    assert set(suite_columns(stream)) <= known, "the suite reads only columns the parser produces"


def test_unknown_stream_is_refused():
    with pytest.raises(ValueError, match="unknown stream"):
        build_suite("nope")


@pytest.mark.parametrize("stream", STREAMS)
def test_clean_generated_batch_passes(runner, batches, stream):
    frame = batches[stream]
    outcome = runner.validate_submissions(stream, frame)
    assert outcome["submission_id"].tolist() == list(dict.fromkeys(frame["submission_id"]))
    assert outcome["n_rows"].sum() == len(frame)
    failing = outcome.loc[~outcome["success"], ["submission_id", "failed_expectations"]]
    assert failing.empty, failing.to_dict("records")
    assert set(outcome["suite_name"]) == {f"{stream}_submission"}
    assert (outcome["n_expectations"] == len(build_suite(stream).expectations)).all()


def _bad_child_batch(batches) -> tuple[pd.DataFrame, str, str, list[str]]:
    frame = batches["child_measurements"]
    ids = _first_ids(frame, 6)
    frame = frame[frame["submission_id"].isin(ids)].sample(frac=1.0, random_state=3).copy()  # shuffled
    a, b = ids[1], ids[4]
    rows_a = frame.index[frame["submission_id"] == a][:2]
    frame.loc[rows_a, "weight_kg"] = WEIRD_WEIGHT
    frame.loc[frame.index[frame["submission_id"] == b][0], "sex"] = 3
    return frame, a, b, ids


def test_bad_rows_fail_exactly_their_submissions(runner, batches):
    frame, a, b, ids = _bad_child_batch(batches)
    outcome = runner.validate_submissions("child_measurements", frame)
    assert set(outcome["submission_id"]) == set(ids)
    assert set(outcome.loc[~outcome["success"], "submission_id"]) == {a, b}

    n_a = int((frame["submission_id"] == a).sum())
    (fail_a,) = _failed(outcome, a)
    assert fail_a == {"expectation": "expect_column_values_to_be_between", "check": "weight_kg_in_who_cleaning_range",
                      "column": "weight_kg", "n_unexpected": 2, "pct_unexpected": round(200 / n_a, 4)}
    (fail_b,) = _failed(outcome, b)
    assert (fail_b["expectation"], fail_b["check"], fail_b["column"], fail_b["n_unexpected"]) == (
        "expect_column_values_to_be_in_set", "sex_is_1_or_2", "sex", 1)
    assert outcome.set_index("submission_id").loc[[a, b], "n_failed"].tolist() == [1, 1]


def test_results_carry_no_cell_values(runner, batches):
    frame, a, _, _ = _bad_child_batch(batches)
    victim = frame.index[frame["submission_id"] == a][0]
    planted = frame.loc[victim, ["child_id", "parent_id", "address_id"]].dropna().tolist()
    frame.loc[frame.index[frame["submission_id"] == a][3], "child_id"] = BAD_TOKEN
    raw = json.dumps(runner.run_suite("child_measurements", frame))
    outcome = runner.validate_submissions("child_measurements", frame)
    stored = outcome.to_json(orient="records")
    assert "child_id_is_token" in stored and "weight_kg_in_who_cleaning_range" in raw
    for text in (raw, stored):
        for value in [str(WEIRD_WEIGHT), BAD_TOKEN, *planted]:
            assert value not in text
    # Row indices are there, as submission id + row number only.
    results = json.loads(raw)["results"]
    weight = next(r for r in results if r["expectation_config"]["meta"]["check"] == "weight_kg_in_who_cleaning_range")
    (index_block,) = weight["result"]["unexpected_index_list"]
    assert set(index_block) == {"submission_id", "row_number"} and index_block["submission_id"] == [a, a]
    assert not {"partial_unexpected_list", "unexpected_list", "unexpected_rows"} & set(weight["result"])


def test_mostly_is_judged_per_submission(runner, batches):
    frame = batches["households"].copy()
    target = _first_ids(frame, 3)[2]
    rows = frame.index[frame["submission_id"] == target]
    frame.loc[rows[: max(2, len(rows) // 4)], "n_members"] = 40  # >5 % of one submission, <1 % of the batch
    raw = runner.run_suite("households", frame)
    overall = next(r for r in raw["results"] if r["expectation_config"]["meta"]["check"] == "n_members_1_to_30")
    assert overall["success"], "over the whole batch the mostly threshold still holds"
    outcome = runner.validate_submissions("households", frame)
    assert outcome.loc[~outcome["success"], "submission_id"].tolist() == [target]
    assert [f["check"] for f in _failed(outcome, target)] == ["n_members_1_to_30"]


def test_cross_column_property_uses_helper_column(runner, batches):
    frame = batches["opd_programmes"].copy()
    target = _first_ids(frame, 2)[1]
    rows = frame["submission_id"] == target
    frame.loc[rows, "realisation_rp"] = frame.loc[rows, "budget_rp"] * 2
    outcome = runner.validate_submissions("opd_programmes", frame)
    assert outcome.loc[~outcome["success"], "submission_id"].tolist() == [target]
    (fail,) = _failed(outcome, target)
    assert fail["check"] == "realisation_at_most_150pct_of_budget" and fail["pct_unexpected"] == 100.0


def test_submissions_without_rows_pass(runner, batches):
    frame = batches["aksi_reports"]
    outcome = runner.validate_submissions("aksi_reports", frame, submission_ids=["aks-empty", _first_ids(frame, 1)[0]])
    empty = outcome.set_index("submission_id").loc["aks-empty"]
    assert bool(empty["success"]) and empty["n_rows"] == 0 and empty["n_failed"] == 0
    assert len(outcome) == frame["submission_id"].nunique() + 1

    only_empty = runner.validate_submissions("aksi_reports", frame.iloc[:0], submission_ids=["x", "y"])
    assert only_empty["submission_id"].tolist() == ["x", "y"] and only_empty["success"].all()
    assert only_empty["gx_version"].iloc[0] == runner.gx_version()


def test_missing_column_fails_every_submission_without_exception_text(runner, batches):
    frame = batches["survey_figures"].drop(columns=["stunting_ssgi_pct"])
    outcome = runner.validate_submissions("survey_figures", frame)
    assert not outcome["success"].any()
    failed = _failed(outcome, outcome["submission_id"].iloc[0])
    assert {(f["check"], f["error"]) for f in failed} == {
        ("parsed_columns_present", False), ("stunting_ssgi_pct_0_to_100", True)}
    raw = json.dumps(runner.run_suite("survey_figures", frame))
    assert "does not exist" not in raw and "Traceback" not in raw


def test_frame_index_and_dtypes_do_not_matter(runner, batches):
    """A caller may concatenate without ignore_index; object-typed columns still validate."""
    frame = batches["lokus_villages"]
    ids = _first_ids(frame, 2)
    parts = [frame[frame["submission_id"] == s] for s in ids]
    doubled = pd.concat(parts)  # duplicate index labels across the parts
    doubled.index = np.zeros(len(doubled), dtype=int)
    doubled = doubled.astype({"village_code": object})
    bad = doubled["submission_id"].eq(ids[1]).to_numpy().nonzero()[0][0]
    doubled.iloc[bad, doubled.columns.get_loc("village_code")] = "36.01.01.3001"  # not desa/kelurahan
    outcome = runner.validate_submissions("lokus_villages", doubled)
    assert outcome.loc[~outcome["success"], "submission_id"].tolist() == [ids[1]]
    assert {f["check"] for f in _failed(outcome, ids[1])} >= {"village_code_is_kemendagri"}


def test_configurations_built_once_per_validation_change_no_outcome(runner, batches, monkeypatch):
    """GX rebuilds an expectation's configuration on every read; while one validation runs, the
    runner builds each once. The outcomes are those of GX as it comes, on failing rows too, and
    nothing is kept between validations."""
    from great_expectations.expectations.expectation import Expectation

    assert getattr(Expectation.configuration.fget, "_built_once_per_validation", False)  # installed
    frame, *_ = _bad_child_batch(batches)
    cases = [("child_measurements", frame)] + [(stream, batches[stream]) for stream in STREAMS]
    cached = [runner.validate_submissions(stream, rows) for stream, rows in cases]
    assert speed._CONFIGURATIONS == {} and speed._CACHING == [False]
    monkeypatch.setattr(speed, "CACHE_CONFIGURATIONS", False)
    as_gx_does = [runner.validate_submissions(stream, rows) for stream, rows in cases]
    for (stream, _), a, b in zip(cases, cached, as_gx_does, strict=True):
        pd.testing.assert_frame_equal(a, b, obj=stream)
    assert not cached[0]["success"].all()  # the comparison covers failures, not only passes
    expectation = runner._runtime().suites["child_measurements"].expectations[0]
    assert expectation.configuration is not expectation.configuration  # outside a validation: GX's own


def _results_and_outcomes(runner, cases):
    """GX's whole result and the outcomes of every (stream, rows) case."""
    return [(runner.run_suite(stream, rows), runner.validate_submissions(stream, rows)) for stream, rows in cases]


def _assert_same_results(cases, a, b) -> None:
    for (stream, _), (result_a, outcome_a), (result_b, outcome_b) in zip(cases, a, b, strict=True):
        for item in (result_a, result_b):  # when it ran: not the result
            item.pop("meta", None)
        assert result_a == result_b, stream
        pd.testing.assert_frame_equal(outcome_a, outcome_b, obj=stream)


def test_plain_json_values_take_a_shortcut_with_gx_s_own_results(runner, batches, monkeypatch):
    """GX converts metric arguments and results to JSON value by value; plain values of the exact
    builtin types take a shortcut. GX's whole result (every expectation's, failing rows' indices
    included) is the same with and without it, and so are the outcomes."""
    from great_expectations import util
    from great_expectations.core import id_dict

    assert getattr(util.convert_to_json_serializable, "_plain_values_first", False)  # installed
    assert id_dict.convert_to_json_serializable is util.convert_to_json_serializable  # where GX names metrics
    frame, *_ = _bad_child_batch(batches)
    cases = [("child_measurements", frame)] + [(stream, batches[stream]) for stream in STREAMS]
    fast = _results_and_outcomes(runner, cases)
    monkeypatch.setattr(speed, "FAST_JSON", False)
    _assert_same_results(cases, fast, _results_and_outcomes(runner, cases))
    assert not fast[0][1]["success"].all()  # failing rows covered
    convert = util.convert_to_json_serializable
    for value in ["a", 1, True, None, 2.5, float("nan"), {"a": [1, (2, None)], 3: {"b": 1.0}}, np.int64(3),
                  {"x": np.float64("nan"), "y": {1, 2}}]:
        assert repr(convert(value)) == repr(convert.__wrapped__(value))


def test_column_domains_narrowed_to_the_column_and_the_index_give_gx_s_own_results(runner, batches, monkeypatch):
    """While one of our validations runs, a single-column domain is that column plus the index
    columns. GX's whole result (every expectation's, failing rows' indices included) and the
    outcomes are the same as with GX's whole-frame domains, and outside a validation GX's engine
    hands out the whole frame (the flag is down)."""
    from great_expectations.execution_engine.pandas_execution_engine import PandasExecutionEngine

    assert getattr(PandasExecutionEngine.get_domain_records, "_column_and_index_only", False)  # installed
    class Recording(dict):  # the domains narrowed in each validation, noted before they go
        seen: list = []

        def clear(self):
            self.seen.append(sorted(column for _, column in self))
            super().clear()

    monkeypatch.setattr(speed, "_NARROWED", Recording())
    frame, *_ = _bad_child_batch(batches)
    cases = [("child_measurements", frame)] + [(stream, batches[stream]) for stream in STREAMS]
    narrowed = _results_and_outcomes(runner, cases)
    assert speed._NARROWED == {} and speed._NARROWING == [False]
    assert "village_code" in Recording.seen[0]  # the e-PPGBM suite's column domains were narrowed
    monkeypatch.setattr(speed, "NARROW_COLUMN_DOMAINS", False)
    _assert_same_results(cases, narrowed, _results_and_outcomes(runner, cases))
    assert not narrowed[0][1]["success"].all()  # failing rows covered
    assert any(r["result"].get("unexpected_index_list") for r in narrowed[0][0]["results"])


def test_text_reaches_gx_as_the_same_categorical_without_the_second_check():
    """The suites read Arrow text as categoricals built from Arrow's dictionary encoding without
    pandas checking the categories again: the same values, categories and dtype as the checked way."""
    import pandas as pd

    from pipelines.ingestion.validation.runner import _categorical_text

    series = pd.Series(["b", None, "a", "b", "c", None, "a"], dtype="str")
    got = _categorical_text(series)
    categories = pd.Index(["b", "a", "c"], dtype="str")  # Arrow text: no Python string per category
    want = pd.Series(pd.Categorical.from_codes([0, -1, 1, 0, 2, -1, 1], categories=categories))
    assert got.dtype == want.dtype
    pd.testing.assert_series_equal(got, want)


class _CountingDict(dict):
    """The kept graphs, counting the look-ups that found some."""

    def __init__(self) -> None:
        super().__init__()
        self.hits = 0

    def get(self, key, default=None):
        found = super().get(key, default)
        if found is not default:
            self.hits += 1
        return found


def test_metric_graphs_kept_per_suite_give_gx_s_own_results(runner, batches, monkeypatch):
    """While one of our validations runs, the metric dependency graphs GX built for a suite are
    given again to the next validation of that suite. GX's whole result (failing rows' indices and
    a metric that fails to resolve included) and the outcomes are the same as with graphs built
    each time, whatever the batch's size, and the flag is down outside a validation."""
    kept = _CountingDict()
    monkeypatch.setattr(speed, "_GRAPHS", kept)
    frame, *_ = _bad_child_batch(batches)
    cases = [("child_measurements", frame), ("child_measurements", frame.iloc[:3]),
             ("child_measurements", frame.drop(columns=["weight_kg"]))]  # a metric that cannot resolve
    cases += [(stream, batches[stream]) for stream in STREAMS]
    first = _results_and_outcomes(runner, cases)
    assert len(kept) >= len(STREAMS) and kept.hits > 0  # kept, and given again within the first pass
    hits = kept.hits
    again = _results_and_outcomes(runner, cases)
    assert kept.hits > hits
    assert speed._KEEPING_GRAPHS == [False]
    monkeypatch.setattr(speed, "CACHE_METRIC_GRAPHS", False)
    built = _results_and_outcomes(runner, cases)
    _assert_same_results(cases, first, built)
    _assert_same_results(cases, again, built)
    assert not built[0][1]["success"].all()  # failures covered
    assert any(runner._raised(r) for r in built[2][0]["results"])  # the unresolvable metric


def test_regexes_matched_once_per_category_give_gx_s_own_results(runner, batches, monkeypatch):
    """While one of our validations runs, a regex is matched once per category of a categorical
    column and each row takes its category's answer. GX's whole result (failing rows' indices
    included) and the outcomes are the same as with GX's row-by-row matching, and outside a
    validation GX's own condition runs (the flag is down)."""
    from great_expectations.expectations.registry import _registered_metrics

    _, provider = _registered_metrics["column_values.match_regex.condition"]["providers"]["PandasExecutionEngine"]
    inner = speed._closure_cell(provider, "metric_fn").cell_contents
    matcher = speed._closure_cell(inner, "metric_fn").cell_contents
    assert getattr(matcher, "_once_per_category", False)  # installed
    calls = []
    matched = speed._matched_per_category

    def counted(original, cls, column, codes, regex, kwargs):
        calls.append((column.name, len(column), len(column.cat.categories)))
        return matched(original, cls, column, codes, regex, kwargs)

    monkeypatch.setattr(speed, "_matched_per_category", counted)
    frame, *_ = _bad_child_batch(batches)
    frame.loc[frame.index[:3], "child_id"] = BAD_TOKEN  # a pseudonym that is not one: the regex fails
    cases = [("child_measurements", frame)] + [(stream, batches[stream]) for stream in STREAMS]
    per_category = _results_and_outcomes(runner, cases)
    assert speed._PER_CATEGORY == [False]
    assert ("child_id", len(frame), frame["child_id"].nunique()) in calls  # matched once per category
    assert {name for name, *_ in calls} >= {"village_code", "household_id", "regency_code"}
    calls.clear()
    monkeypatch.setattr(speed, "REGEX_ONCE_PER_CATEGORY", False)
    _assert_same_results(cases, per_category, _results_and_outcomes(runner, cases))
    assert calls == []  # GX's own, row by row
    failed = {f["check"] for f in _failed(per_category[0][1], frame["submission_id"].iloc[0])}
    assert "child_id_is_token" in failed  # failing rows covered
