"""The dbt-like SQL runner: dependency inference, YAML tests, builds in DuckDB."""


import duckdb
import pytest
from dagster import AssetCheckKey, AssetKey, AssetSelection, Definitions, asset, materialize

from pipelines.assets.sql import build_sql_assets
from pipelines.resources import WarehouseResource
from pipelines.sql_engine.build import run_model
from pipelines.sql_engine.model_tests import check_sql
from pipelines.sql_engine.models import (
    SqlModelError,
    discover_models,
    discover_sources,
    table_refs,
)
from tests.paths import FIXTURES

FIXTURES = FIXTURES / "sql_models"


def test_table_refs_excludes_ctes_and_table_functions():
    sql = (FIXTURES / "staging" / "stg_orders.sql").read_text()
    assert table_refs(sql) == {"raw.orders", "raw.customers"}
    assert table_refs("select * from range(3)") == set()
    assert table_refs("with x as (select 1) select * from x anti join raw.a using (k)") == {"raw.a"}


def test_subquery_reads_count_as_upstream():
    models = {m.table: m for m in discover_models(FIXTURES)}
    assert models["marts.fct_order_totals"].upstream_tables == {"staging.stg_orders", "marts.dim_customer"}


def test_unqualified_table_is_an_error():
    with pytest.raises(SqlModelError, match="schema-qualified"):
        table_refs("select * from orders")


def test_yaml_becomes_descriptions_and_tests():
    models = {m.table: m for m in discover_models(FIXTURES)}
    fct = models["marts.fct_order_totals"]
    assert fct.description == "Totals per customer."
    assert models["staging.stg_orders"].description == "One row per order."
    names = {t.name: t for t in fct.tests}
    assert set(names) == {
        "customer_id_unique", "customer_id_not_null", "customer_id_relationships",
        "n_orders_accepted_values", "amount_positive", "numeric_columns_finite",
    }
    assert names["n_orders_accepted_values"].severity == "warn"
    assert names["customer_id_unique"].severity == "error"


def _sql_dir(tmp_path, files: dict[str, str]):
    """A small model directory: ``{relative path: text}``."""
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


_SOURCES = "sources:\n  - name: raw\n    tables:\n      - name: orders\n"


def test_each_model_reads_the_yaml_named_like_it():
    models = {m.table: m for m in discover_models(FIXTURES)}
    assert models["marts.dim_customer"].tests[0].name == "customer_id_unique"
    assert models["staging.stg_orders"].tests == []  # no stg_orders.yml: docs from the SQL comment only


def test_yaml_without_sql_is_an_error(tmp_path):
    sql_dir = _sql_dir(tmp_path, {"staging/a.sql": "select 1 as x", "staging/b.yml": "models:\n  - name: b\n"})
    with pytest.raises(SqlModelError, match=r"b\.yml: no SQL file b\.sql"):
        discover_models(sql_dir)


def test_model_entry_named_unlike_its_file_is_an_error(tmp_path):
    sql_dir = _sql_dir(tmp_path, {"staging/a.sql": "select 1 as x", "staging/a.yml": "models:\n  - name: b\n"})
    with pytest.raises(SqlModelError, match=r"a\.yml: model entry 'b' does not match its file a\.sql"):
        discover_models(sql_dir)


def test_one_model_per_yaml(tmp_path):
    sql_dir = _sql_dir(tmp_path, {
        "staging/a.sql": "select 1 as x", "staging/b.sql": "select 2 as x",
        "staging/a.yml": "models:\n  - name: a\n  - name: b\n",
    })
    with pytest.raises(SqlModelError, match="one YAML per model"):
        discover_models(sql_dir)


def test_sources_are_declared_in_sources_yml():
    assert discover_sources(FIXTURES) == {"raw.orders", "raw.customers"}
    assert discover_sources(FIXTURES / "staging") == set()


def test_every_source_is_a_table_declared_in_python():
    from pipelines.settings import SQL_DIR
    from pipelines.tables import TABLES

    assert discover_sources(SQL_DIR) <= set(TABLES)


def test_reading_an_undeclared_table_is_an_error(tmp_path):
    sql_dir = _sql_dir(tmp_path, {
        "sources.yml": _SOURCES,
        "staging/stg_a.sql": "select * from raw.orders join raw.customers using (id)",
    })
    with pytest.raises(SqlModelError, match=r"stg_a\.sql: reads raw\.customers, which is neither a model nor a source"):
        discover_models(sql_dir)
    (sql_dir / "staging" / "stg_a.sql").write_text("select * from raw.orders")
    assert [m.table for m in discover_models(sql_dir)] == ["staging.stg_a"]


def test_a_source_that_is_also_a_model_is_an_error(tmp_path):
    sql_dir = _sql_dir(tmp_path, {"sources.yml": _SOURCES, "raw/orders.sql": "select 1 as id"})
    with pytest.raises(SqlModelError, match="raw.orders is declared as a source but is a model"):
        discover_models(sql_dir)


def _raw_tables():
    return {"raw.orders": AssetKey(["raw", "orders"]), "raw.customers": AssetKey(["raw", "customers"])}


def test_asset_graph_derives_deps():
    assets, checks = build_sql_assets(discover_models(FIXTURES), _raw_tables())
    defs = Definitions(assets=assets, asset_checks=checks, resources={"warehouse": WarehouseResource(path="unused.duckdb")})
    graph = defs.resolve_asset_graph()
    fct = AssetKey(["marts", "fct_order_totals"])
    assert graph.get(fct).parent_keys == {AssetKey(["staging", "stg_orders"]), AssetKey(["marts", "dim_customer"])}
    assert graph.get(AssetKey(["staging", "stg_orders"])).parent_keys == set(_raw_tables().values())
    # the checks live in their model's step: one check per YAML test, plus the finite check per mart
    assert checks == []
    assert sum(len(a.check_keys) for a in assets) == 6 + 2
    assert {k.name for k in defs.resolve_assets_def(fct).check_keys} >= {"amount_positive"}


def test_unknown_upstream_table_fails_at_load():
    with pytest.raises(SqlModelError, match="raw.orders, which no asset produces"):
        build_sql_assets(discover_models(FIXTURES), {"raw.customers": AssetKey(["raw", "customers"])})


def _raw_assets(orders_sql: str):
    """raw.orders (rows given as a VALUES list of (customer_id, amount)) and raw.customers."""

    @asset(key=AssetKey(["raw", "orders"]))
    def orders(warehouse: WarehouseResource):
        with warehouse.connect() as con:
            con.execute(f"create or replace table raw.orders as select * from (values {orders_sql}) t(customer_id, amount)")

    @asset(key=AssetKey(["raw", "customers"]))
    def customers(warehouse: WarehouseResource):
        with warehouse.connect() as con:
            con.execute("create or replace table raw.customers as select * from (values (1, 'a'), (2, 'b')) t(customer_id, name)")

    return orders, customers


def test_models_build_and_checks_run(tmp_path):
    db = tmp_path / "w.duckdb"
    warehouse = WarehouseResource(path=str(db))
    orders, customers = _raw_assets("(1, 10.0), (1, 5.0), (2, -1.0)")

    @asset(key=AssetKey(["publish", "after_totals"]), deps=[AssetKey(["marts", "fct_order_totals"])])
    def after_totals():
        return None

    assets, checks = build_sql_assets(discover_models(FIXTURES), _raw_tables())
    result = materialize([orders, customers, *assets, *checks, after_totals], resources={"warehouse": warehouse},
                         raise_on_error=False)
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    # amount_positive is blocking (no severity: warn) and fails: nothing downstream runs,
    # although the other tests of the same multi-check passed
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert AssetKey(["marts", "fct_order_totals"]) in materialized
    assert AssetKey(["publish", "after_totals"]) not in materialized
    assert evaluations["n_orders_accepted_values"].severity.value == "WARN"
    assert evaluations["customer_id_unique"].passed
    assert evaluations["customer_id_relationships"].passed
    # customer 2 totals -1: the expression check must fail and report one row
    assert not evaluations["amount_positive"].passed
    assert evaluations["amount_positive"].metadata["failing_rows"].value == 1
    con = duckdb.connect(str(warehouse.work_path), read_only=True)
    comment = con.execute(
        "select comment from duckdb_columns() where table_name = 'fct_order_totals' and column_name = 'customer_id'"
    ).fetchone()[0]
    assert comment == "The customer."
    con.close()


def test_a_check_runs_alone_and_a_table_builds_alone(tmp_path):
    """The YAML tests run in their model's step, which runs any subset: "Execute" on one check in
    the UI re-runs that check without rebuilding the table, and the table can build without them."""
    warehouse = WarehouseResource(path=str(tmp_path / "w.duckdb"))
    orders, customers = _raw_assets("(1, 10.0), (2, -1.0)")
    assets, _ = build_sql_assets(discover_models(FIXTURES), _raw_tables())
    everything = [orders, customers, *assets]
    fct = AssetKey(["marts", "fct_order_totals"])
    assert materialize(everything, resources={"warehouse": warehouse}, raise_on_error=False).get_asset_check_evaluations()

    one_check = materialize(everything, resources={"warehouse": warehouse}, raise_on_error=False,
                            selection=AssetSelection.checks(AssetCheckKey(fct, "amount_positive")))
    assert [(e.asset_key, e.check_name, e.passed) for e in one_check.get_asset_check_evaluations()] == [
        (fct, "amount_positive", False)]
    assert one_check.get_asset_materialization_events() == []
    assert not one_check.success  # blocking and failing: the step fails

    table_only = materialize(everything, resources={"warehouse": warehouse}, raise_on_error=False,
                             selection=AssetSelection.assets(fct).without_checks())
    assert table_only.success
    assert [e.asset_key for e in table_only.get_asset_materialization_events()] == [fct]
    assert table_only.get_asset_check_evaluations() == []


def test_check_sql_counts_offending_rows():
    con = duckdb.connect()
    con.execute("create schema m; create table m.t as select * from (values (1), (1), (1), (2), (null)) v(k)")
    model = discover_models(FIXTURES)[0]
    model.layer, model.name = "m", "t"
    from pipelines.sql_engine.models import ModelTest

    assert con.execute(check_sql(model, ModelTest("unique", "k", {}))).fetchone()[0] == 2
    assert con.execute(check_sql(model, ModelTest("not_null", "k", {}))).fetchone()[0] == 1
    assert con.execute(check_sql(model, ModelTest("accepted_values", "k", {"values": [1]}))).fetchone()[0] == 1


def test_relationships_over_some_months_scan_only_the_key_and_the_month():
    """A partitioned model's relationships test over its months counts the orphans of those months
    only, and DuckDB reads just the key and the month column of the model (the NOT EXISTS join used
    to materialise every column of a ``select *`` subquery: 10-11 s a test on a national month)."""
    from pipelines.sql_engine.models import ModelTest

    con = duckdb.connect()
    con.execute("create schema m; create table m.parent as select * from (values ('a'), ('b')) v(id)")
    con.execute("create table m.t as select * from (values ('a', '2024-08', 'x'), ('zz', '2024-08', 'x'), "
                "(null, '2024-08', 'x'), ('zz', '2024-07', 'x'), ('b', '2024-07', 'x')) v(k, period, payload)")
    model = discover_models(FIXTURES)[0]
    model.layer, model.name, model.partition_by = "m", "t", "period"
    test = ModelTest("relationships", "k", {"to": "m.parent", "field": "id"})
    assert con.execute(check_sql(model, test, ["2024-08"])).fetchone()[0] == 1
    assert con.execute(check_sql(model, test, ["2024-07", "2024-08"])).fetchone()[0] == 2
    assert con.execute(check_sql(model, test)).fetchone()[0] == 2
    plan = "\n".join(row[1] for row in con.execute("explain " + check_sql(model, test, ["2024-08"])).fetchall())
    assert "payload" not in plan


def test_run_model_is_one_transaction(tmp_path):
    con = duckdb.connect(str(tmp_path / "x.duckdb"))
    con.execute("create schema raw; create schema staging")
    con.execute("create table raw.orders as select 1 as customer_id, 1.0 as amount")
    con.execute("create table raw.customers as select 1 as customer_id")
    model = {m.table: m for m in discover_models(FIXTURES)}["staging.stg_orders"]
    assert run_model(con, model) == 1
    model.columns["no_such_column"] = "breaks the comment statement"
    with pytest.raises(duckdb.Error):
        run_model(con, model)
    # the failed rebuild rolled back: the previous table is still there
    assert con.execute("select count(*) from staging.stg_orders").fetchone()[0] == 1


def test_every_mart_has_a_blocking_finite_check_that_finds_inf_and_nan():
    from pipelines.settings import SQL_DIR
    from pipelines.sql_engine.model_tests import float_columns
    from pipelines.sql_engine.models import ModelTest

    models = discover_models(SQL_DIR)
    marts = [m for m in models if m.layer == "marts"]
    assert marts and all(
        any(t.kind == "numeric_columns_finite" and t.severity == "error" for t in m.tests) for m in marts
    )
    assert not any(t.kind == "numeric_columns_finite" for m in models if m.layer != "marts" for t in m.tests)

    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        "create table marts.fct_x as select * from (values (1.0, 1.5::float, 'a', 2::decimal(5, 2)), "
        "('inf'::double, 0.0::float, 'b', 3), (2.0, 'nan'::float, 'c', 4), (null, null, null, null), "
        "(3.0, '-inf'::float, 'd', 5)) v(a, b, label, d)"
    )
    model = marts[0]
    model.layer, model.name = "marts", "fct_x"
    assert float_columns(con, "marts.fct_x") == ["a", "b"]
    test = ModelTest("numeric_columns_finite", None, {"columns": float_columns(con, "marts.fct_x")})
    assert con.execute(check_sql(model, test)).fetchone()[0] == 3
    con.execute("delete from marts.fct_x where not isfinite(a) or not isfinite(b)")
    assert con.execute(check_sql(model, test)).fetchone()[0] == 0
    assert con.execute(check_sql(model, ModelTest("numeric_columns_finite", None, {}))).fetchone()[0] == 0


def test_a_model_step_raises_the_memory_cap_and_gives_it_back_even_on_failure():
    import duckdb
    import pytest

    from pipelines.sql_engine.build import memory_limit

    con = duckdb.connect(config={"memory_limit": "1GB"})

    def cap() -> int:
        return con.execute("select current_setting('memory_limit')").fetchone()[0]

    before = cap()
    with memory_limit(con, "3GB", "1GB"):
        during = cap()
        other = con.cursor().execute("select current_setting('memory_limit')").fetchone()[0]
    assert during != before and other == during  # the database's cap: every cursor sees it
    assert cap() == before
    with pytest.raises(RuntimeError), memory_limit(con, "2GB", "1GB"):
        raise RuntimeError("the model failed")
    assert cap() == before


def test_a_configured_compression_is_used_and_changes_nothing_else(tmp_path):
    """``config: {compression: {column: zstd}}`` builds the table with that column's compression
    (the random pseudonyms of the large staging tables) and the same names, types and rows; the
    other columns keep DuckDB's choice. A column the model does not return, or an unknown
    compression, is an error naming it."""
    import dataclasses

    con = duckdb.connect(str(tmp_path / "x.duckdb"))
    con.execute("create schema raw; create schema staging")
    con.execute("create table raw.orders as select (i % 7) as customer_id, i * 1.5 as amount, md5(i::varchar) as note "
                "from range(300000) t(i)")
    con.execute("create table raw.customers as select i as customer_id from range(7) t(i)")
    model = {m.table: m for m in discover_models(FIXTURES)}["staging.stg_orders"]
    plain = run_model(con, model)
    want = con.execute("select * from staging.stg_orders order by all").fetchall()
    types = con.execute("describe staging.stg_orders").fetchall()
    column = "note"  # md5 text: random, as the pseudonyms are
    zstd = dataclasses.replace(model, compression={column: "zstd"})
    assert run_model(con, zstd) == plain
    con.execute("checkpoint")
    assert con.execute("describe staging.stg_orders").fetchall() == types
    assert con.execute("select * from staging.stg_orders order by all").fetchall() == want
    used = {c for (c,) in con.execute(
        "select distinct compression from pragma_storage_info('staging.stg_orders') where column_name = ? "
        "and segment_type not in ('VALIDITY')", [column]).fetchall()}
    assert used == {"ZSTD"}, used
    with pytest.raises(SqlModelError, match="no_such"):
        run_model(con, dataclasses.replace(model, compression={"no_such": "zstd"}))
    yml = tmp_path / "m.yml"
    from pipelines.sql_engine.models import _compression

    with pytest.raises(SqlModelError, match="unknown compression"):
        _compression(yml, {column: "lzma"})
