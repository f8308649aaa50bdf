"""Blocking checks stop the publish; advisory ones do not; thresholds work as documented."""

from __future__ import annotations

import duckdb
from dagster import AssetKey, asset, materialize

from pipelines import tables
from pipelines.assets.publish import build_publish_asset
from pipelines.assets.sql import build_sql_assets
from pipelines.checks.quality import no_submission_mostly_unparseable
from pipelines.resources import WarehouseResource
from pipelines.sql_engine.models import discover_models
from tests.paths import FIXTURES


def _raw_counts_asset(duplicate: bool):
    @asset(key=AssetKey(["raw", "counts"]))
    def counts(warehouse: WarehouseResource):
        batches = "(1), (2)" if duplicate else "(1)"
        with warehouse.connect() as con:
            con.execute(
                "create or replace table raw.counts as select '36.01' as region_code, b as batch, 5 as n "
                f"from (values {batches}) t(b)"
            )

    return counts


def _run(tmp_path, duplicate: bool):
    models = discover_models(FIXTURES / "sql_broken_grain")
    raw = _raw_counts_asset(duplicate)
    assets, checks = build_sql_assets(models, {"raw.counts": raw.key})
    publish = build_publish_asset([raw.key, *[k for a in assets for k in a.keys]])
    warehouse = WarehouseResource(path=str(tmp_path / "published.duckdb"))
    result = materialize([raw, *assets, *checks, publish], resources={"warehouse": warehouse}, raise_on_error=False)
    return result, warehouse


def test_broken_grain_blocks_the_publish(tmp_path):
    ok, warehouse = _run(tmp_path, duplicate=False)
    assert ok.success and warehouse.published_path.exists()
    con = duckdb.connect(str(warehouse.published_path), read_only=True)
    assert con.execute("select n from marts.fct_totals").fetchall() == [(5,)]
    con.close()
    before = warehouse.published_path.stat().st_mtime_ns

    broken, warehouse = _run(tmp_path, duplicate=True)
    evaluations = {e.check_name: e for e in broken.get_asset_check_evaluations()}
    assert not evaluations["region_code_unique"].passed
    materialized = {tuple(e.asset_key.path) for e in broken.get_asset_materialization_events()}
    assert ("publish", "warehouse_file") not in materialized
    # BI still sees the previous, good warehouse
    assert warehouse.published_path.stat().st_mtime_ns == before
    con = duckdb.connect(str(warehouse.published_path), read_only=True)
    assert con.execute("select n from marts.fct_totals").fetchall() == [(5,)]
    con.close()


def test_mostly_unparseable_submission_is_an_error(tmp_path):
    warehouse = WarehouseResource(path=str(tmp_path / "w.duckdb"))

    @asset(key=AssetKey(["raw", "submissions"]))
    def submissions(warehouse: WarehouseResource):
        with warehouse.connect() as con:
            tables.create(con, "raw.submissions", replace=True)  # as ingestion declares it
            con.execute(
                """insert into raw.submissions by name select *, 'village' as submitter_level, 'landing' as transport,
                received_at as ingested_at, 'sha' || submission_id as content_sha256 from (values
                ('a', 'child_measurements', '36.01.01.2001', '2024-08', 1, 'a.csv', 'accepted', timestamp '2024-09-01', 40, 38, 2),
                ('b', 'child_measurements', '36.01.01.2002', '2024-08', 1, 'b.csv', 'accepted', timestamp '2024-09-01', 40, 10, 30),
                ('c', 'child_measurements', '36.01.01.2003', '2024-08', 1, 'c.csv', 'accepted', timestamp '2024-09-01', 4, 0, 4)
                ) t(submission_id, stream, submitter_code, period, version, file_name, status, received_at,
                    n_source_rows, n_rows_accepted, n_rows_rejected)"""
            )

    result = materialize(
        [submissions, no_submission_mostly_unparseable], resources={"warehouse": warehouse}, raise_on_error=False
    )
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed
    assert evaluation.metadata["n_submissions"].value == 1  # b; c is too small to judge
    assert "b.csv" in evaluation.metadata["submissions"].value


def test_a_set_aside_submission_no_longer_fails_the_check(tmp_path):
    from pipelines.ingestion.exclusions import record_decision

    warehouse = WarehouseResource(path=str(tmp_path / "w.duckdb"))

    @asset(key=AssetKey(["raw", "submissions"]))
    def submissions(warehouse: WarehouseResource):
        with warehouse.connect() as con:
            tables.create(con, "raw.submissions", replace=True)
            con.execute(
                """insert into raw.submissions by name select *, 'village' as submitter_level, 'landing' as transport,
                received_at as ingested_at, 'sha' || submission_id as content_sha256 from (values
                ('b', 'child_measurements', '36.01.01.2002', '2024-08', 1, 'b.csv', 'accepted', timestamp '2024-09-01', 40, 10, 30)
                ) t(submission_id, stream, submitter_code, period, version, file_name, status, received_at,
                    n_source_rows, n_rows_accepted, n_rows_rejected)"""
            )

    def evaluate():
        result = materialize(
            [submissions, no_submission_mostly_unparseable], resources={"warehouse": warehouse}, raise_on_error=False
        )
        (evaluation,) = result.get_asset_check_evaluations()
        return evaluation

    failed = evaluate()
    assert not failed.passed and "(submission `b`)" in failed.metadata["submissions"].value  # the id to set aside
    with warehouse.connect() as con:
        record_decision(con, "b", "garbled export", "Rina")
    assert evaluate().passed
    with warehouse.connect() as con:
        record_decision(con, "b", "fixed upstream", "Rina", undo=True)
    assert not evaluate().passed


def test_exports_move_into_place_only_with_a_published_file(tmp_path):
    """The Parquet exports are written while the file is copied, and moved into place only once it
    is published: a publish that fails leaves BI the previous exports and no half-written ones."""
    ok, warehouse = _run(tmp_path, duplicate=False)
    assert ok.success
    before = {p.name: p.stat().st_mtime_ns for p in warehouse.parquet_dir.iterdir()}
    assert "fct_totals.parquet" in before
    warehouse.published_path.unlink()
    warehouse.published_path.mkdir()  # a directory where the file goes: the atomic rename fails
    failed, _ = _run(tmp_path, duplicate=False)
    assert not failed.success
    assert {p.name: p.stat().st_mtime_ns for p in warehouse.parquet_dir.iterdir()} == before


def test_a_large_working_file_is_copied_before_its_exports_are_written(tmp_path, monkeypatch):
    """Above CONCURRENT_EXPORT_BYTES the exports are written after the copy (two DuckDB instances at
    once would each take up to their memory cap); they are the same files either way."""
    from pipelines.assets import publish

    together, _ = _run(tmp_path / "together", duplicate=False)
    monkeypatch.setattr(publish, "CONCURRENT_EXPORT_BYTES", 0)
    apart, warehouse = _run(tmp_path / "apart", duplicate=False)
    assert together.success and apart.success
    con = duckdb.connect()
    rows = [con.execute(f"select * from read_parquet('{root / 'parquet' / 'fct_totals.parquet'}') order by all").fetchall()
            for root in (tmp_path / "together", tmp_path / "apart")]
    assert rows[0] == rows[1] and rows[0]
    assert not [p for p in warehouse.parquet_dir.iterdir() if p.name.startswith(".")]
