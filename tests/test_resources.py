"""WarehouseResource inside a run: one DuckDB database shared by the run's steps, complete on disk
before the publish copies it and closed when the run ends."""

from __future__ import annotations

import dagster as dg
import duckdb

from pipelines.resources import WarehouseResource


def test_a_run_s_steps_share_one_database_that_is_on_disk_for_the_publish_and_closed_after(tmp_path):
    seen = {}

    @dg.asset
    def first(warehouse: WarehouseResource) -> None:
        with warehouse.connect() as con:
            con.execute("create table staging.t as select 1 as n")
        seen["first"] = warehouse._shared

    @dg.asset(deps=[first])
    def second(warehouse: WarehouseResource) -> None:
        with warehouse.connect() as con:
            con.execute("insert into staging.t values (2)")
        seen["second"] = warehouse._shared

    @dg.asset(deps=[second])
    def publish(warehouse: WarehouseResource) -> None:
        warehouse.publish()
        with duckdb.connect(str(warehouse.published_path), read_only=True) as published:
            seen["published_tables"] = published.execute("select count(*) from duckdb_tables()").fetchone()[0]
        with warehouse.connect() as con:  # opens the database again for any later step
            seen["after_publish"] = con.execute("select sum(n) from staging.t").fetchone()[0]

    warehouse = WarehouseResource(path=str(tmp_path / "banten.duckdb"))
    result = dg.materialize([first, second, publish], resources={"warehouse": warehouse})
    assert result.success
    assert seen["first"] is not None and seen["first"] is seen["second"]
    assert seen["published_tables"] == 0  # staging is not published; the copy read the file fine
    assert seen["after_publish"] == 3
    # The run released the file: another process (BI, the next run) may open it.
    with duckdb.connect(str(tmp_path / "work" / "banten.duckdb"), read_only=True) as con:
        assert con.execute("select sum(n) from staging.t").fetchone()[0] == 3


def test_outside_a_run_each_connect_opens_and_closes_the_file(tmp_path):
    warehouse = WarehouseResource(path=str(tmp_path / "banten.duckdb"))
    with warehouse.connect() as con:
        con.execute("create table raw.t as select 1 as n")
    assert warehouse._shared is None
    with duckdb.connect(str(warehouse.work_path), read_only=True) as con:
        assert con.execute("select n from raw.t").fetchall() == [(1,)]


def test_without_the_checkpoint_vacuum_a_rebuilt_month_does_not_grow_the_file(tmp_path):
    """The pipeline's connections skip DuckDB's checkpoint vacuum (settings.duckdb_config: it
    re-compressed every partly filled row group at each checkpoint, seconds per run). What that
    relies on: the row groups of a month's old rows, all deleted when the month is rebuilt, are
    still dropped and their space reused, so a working file does not grow night after night."""
    import duckdb

    from pipelines import settings

    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path), config=settings.duckdb_config())
    assert con.execute("select current_setting('max_vacuum_tasks')").fetchone()[0] == 0
    month = "select {m} as m, md5(i::varchar) || md5((i + {n})::varchar) as s, random() as x from range(130000) r(i)"
    con.execute(f"create table t as {month.format(m=0, n=0)}")
    for m in (1, 2):
        con.execute(f"insert into t {month.format(m=m, n=0)}")
    con.execute("checkpoint")
    sizes = []
    for night in range(1, 9):  # the latest month rebuilt every night
        con.execute("delete from t where m = 2")
        con.execute(f"insert into t {month.format(m=2, n=night)}")
        con.execute("checkpoint")
        sizes.append(path.stat().st_size)
    assert con.execute("select count(*) from t").fetchone()[0] == 3 * 130000
    con.close()
    assert max(sizes[4:]) <= max(sizes[:4])  # bounded: the old month's blocks are reused
