"""Unit tests of the SQL models (given rows → expected rows, in each model's YAML) and their runner."""

import copy

import pytest

from pipelines.settings import SQL_DIR
from pipelines.sql_engine.models import SqlModelError, discover_models
from pipelines.sql_engine.unit_tests import (
    declared_table_types,
    discover_unit_tests,
    parse_unit_test,
    run_unit_test,
)
from tests.paths import FIXTURES

UNIT_TESTS = discover_unit_tests(discover_models(SQL_DIR))
DECLARED = declared_table_types()


@pytest.mark.parametrize("unit_test", UNIT_TESTS, ids=[t.id for t in UNIT_TESTS])
def test_model_unit_test(unit_test):
    failures = run_unit_test(unit_test, DECLARED)
    assert not failures, f"{unit_test.model.path.with_suffix('.yml')}: {unit_test.name}\n" + "\n".join(failures)


def test_the_important_rules_have_unit_tests():
    ids = {t.id for t in UNIT_TESTS}
    assert {
        "stg_submissions::only_the_highest_accepted_version_is_latest",
        "fct_convergence_action_status::all_eight_actions_listed_with_not_reported",
        "fct_stunting_prevalence::stunted_means_below_minus_two",
    } <= ids


# -- the runner ------------------------------------------------------------------------------------

FIXTURE_MODELS = {m.name: m for m in discover_models(FIXTURES / "sql_models")}
TOTALS = FIXTURE_MODELS["fct_order_totals"]
RAW_TOTALS_TEST = TOTALS.unit_tests[0]


def _totals_test(**changes):
    raw = copy.deepcopy(RAW_TOTALS_TEST)
    raw.update(changes)
    return parse_unit_test(TOTALS, raw)


def test_a_passing_unit_test_passes_in_any_row_order():
    test = _totals_test()
    assert test.id == "fct_order_totals::totals_only_for_known_customers"
    assert run_unit_test(test) == []


def test_wrong_expected_rows_fail_with_a_diff():
    failures = run_unit_test(_totals_test(expect={"rows": [
        {"customer_id": 1, "amount": 15.0, "n_orders": 2},
        {"customer_id": 2, "amount": 7.0, "n_orders": 1},
    ]}))
    assert len(failures) == 1
    message = failures[0]
    assert "expected 2 rows, got 2 (compared on customer_id, amount, n_orders)" in message
    assert "expected but not produced:\n    {customer_id: 2, amount: 7.0, n_orders: 1}" in message
    assert "produced but not expected:\n    {customer_id: 2, amount: 7.5, n_orders: 1}" in message


def test_missing_and_extra_rows_are_failures():
    only_one = _totals_test(expect={"rows": [{"customer_id": 1}]})
    assert "produced but not expected:\n    {customer_id: 2}" in run_unit_test(only_one)[0]
    one_more = _totals_test(expect={"rows": [{"customer_id": 1}, {"customer_id": 2}, {"customer_id": 3}]})
    assert "expected but not produced:\n    {customer_id: 3}" in run_unit_test(one_more)[0]


def test_only_expected_columns_are_compared_and_numbers_within_a_tolerance():
    assert run_unit_test(_totals_test(expect={"rows": [{"amount": 15.0000000001}, {"amount": 7.5}]})) == []
    assert run_unit_test(_totals_test(expect={"rows": [{"amount": 15.01}, {"amount": 7.5}]}))


def test_a_column_an_expected_row_leaves_out_is_expected_null():
    failures = run_unit_test(_totals_test(expect={"rows": [{"customer_id": 1, "n_orders": 2}, {"customer_id": 2}]}))
    assert "expected but not produced:\n    {customer_id: 2, n_orders: None}" in failures[0]


def test_an_expected_column_the_model_does_not_produce_fails():
    failures = run_unit_test(_totals_test(expect={"rows": [{"customer_id": 1, "total": 15.0}]}))
    assert failures == ["expected columns ['total'] are not in the output (columns: customer_id, amount, n_orders)"]


def test_a_table_neither_given_nor_declared_fails_and_a_declared_one_is_created_empty():
    raw = copy.deepcopy(RAW_TOTALS_TEST)
    raw["given"] = [raw["given"][0]]  # no marts.dim_customer
    raw["expect"] = {"rows": []}
    test = parse_unit_test(TOTALS, raw)
    failures = run_unit_test(test)
    assert len(failures) == 1 and failures[0].startswith("marts.dim_customer: marts.fct_order_totals reads it")
    # declared: created empty, so no customer is known and no total is produced
    assert run_unit_test(test, {"marts.dim_customer": {"customer_id": "integer", "name": "varchar"}}) == []


def test_typed_empty_input_and_dates_as_iso_strings():
    model = FIXTURE_MODELS["stg_orders"]
    test = parse_unit_test(model, {
        "name": "dates", "model": "stg_orders",
        "given": [
            {"input": "raw.orders", "rows": [{"customer_id": 1, "ordered_on": "2024-08-01"}],
             "columns": {"ordered_on": "date", "amount": "double"}},
            {"input": "raw.customers", "rows": [{"customer_id": 1}]},
        ],
        "expect": {"rows": [{"customer_id": 1, "ordered_on": "2024-08-01", "amount": None}]},
    })
    assert run_unit_test(test) == []
    empty = parse_unit_test(model, {
        "name": "empty", "model": "stg_orders",
        "given": [{"input": "raw.orders", "rows": [], "columns": {"customer_id": "integer"}},
                  {"input": "raw.customers", "rows": [{"customer_id": 1}]}],
        "expect": {"rows": []},
    })
    assert run_unit_test(empty) == []


def test_a_failing_select_is_reported():
    test = _totals_test(given=[
        {"input": "staging.stg_orders", "rows": [{"customer_id": 1}]},  # no amount column
        {"input": "marts.dim_customer", "rows": [{"customer_id": 1}]},
    ])
    failures = run_unit_test(test)
    assert len(failures) == 1 and failures[0].startswith("the model's SELECT failed:") and "amount" in failures[0]


def test_malformed_unit_tests_are_load_errors(tmp_path):
    with pytest.raises(SqlModelError, match="gives raw.nothing, which marts.fct_order_totals does not read"):
        _totals_test(given=[{"input": "raw.nothing", "rows": []}])
    with pytest.raises(SqlModelError, match="expect needs rows"):
        _totals_test(expect=[{"customer_id": 1}])
    with pytest.raises(SqlModelError, match=r"unexpected keys \['overrides'\]"):
        _totals_test(overrides={})
    sql = tmp_path / "staging" / "a.sql"
    sql.parent.mkdir()
    sql.write_text("select 1 as x")
    sql.with_suffix(".yml").write_text("unit_tests:\n  - name: t\n    model: b\n")
    with pytest.raises(SqlModelError, match="unit test 't' is for model 'b', not a"):
        discover_models(tmp_path)
