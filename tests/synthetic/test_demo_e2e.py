"""End to end: the small demo through Dagster (portal over loopback + landing folder), twice,
gives identical table contents; the published file opens and holds the marts."""

from __future__ import annotations

import duckdb
import pytest

from pipelines import settings

pytestmark = pytest.mark.slow

VOLATILE = {"ingested_at", "run_id", "rejected_at", "last_rejected_at", "started_at", "validated_at", "seen_at", "warned_at"}


def _snapshot(path) -> dict[str, list]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE' order by 1, 2"
        ).fetchall()
        out = {}
        for schema, table in tables:
            cols = [c for (c,) in con.execute(
                "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
                "order by ordinal_position", [schema, table]).fetchall() if c not in VOLATILE]
            select = ", ".join(f'"{c}"' for c in cols)
            out[f"{schema}.{table}"] = con.execute(f'select {select} from "{schema}"."{table}" order by all').fetchall()
        return out
    finally:
        con.close()


def test_demo_twice_gives_identical_tables(tmp_path, monkeypatch, isolated_env):
    """Two demo folders give identical tables; a configured warehouse and Dagster home are never
    touched (issue 18): the demo keeps its own under its folder."""
    from pipelines.synthetic.demo import demo_paths, run_demo

    for name in settings.ENV_DEFAULTS:
        monkeypatch.setenv(name, "")
    configured = tmp_path / "real" / "banten.duckdb"
    (configured.parent / "work").mkdir(parents=True)
    configured.write_bytes(b"the real published warehouse")
    (configured.parent / "work" / configured.name).write_bytes(b"the real raw history")
    monkeypatch.setenv("KONVERGENSI_WAREHOUSE", str(configured))
    monkeypatch.setenv("KONVERGENSI_PSEUDONYM_KEY", "")

    assert run_demo(tmp_path / "demo1")
    assert run_demo(tmp_path / "demo2")
    assert configured.read_bytes() == b"the real published warehouse"
    assert (configured.parent / "work" / configured.name).read_bytes() == b"the real raw history"
    assert sorted(p.name for p in configured.parent.rglob("*")) == ["banten.duckdb", "banten.duckdb", "work"]
    assert [p.name for p in (tmp_path / "dagster_home").iterdir()] == ["dagster.yaml"]  # the configured instance
    published = [demo_paths(tmp_path / name)["warehouse"] for name in ("demo1", "demo2")]
    work = [p.parent / "work" / p.name for p in published]
    first, second = _snapshot(work[0]), _snapshot(work[1])
    assert _snapshot(published[0]) == _snapshot(published[1])
    assert {t.split(".")[0] for t in _snapshot(published[0])} == {"marts", "reference"}

    assert first.keys() == second.keys()
    for table in first:
        assert first[table] == second[table], f"{table} differs between two demo runs"

    counts = {t: len(rows) for t, rows in first.items()}
    assert counts["marts.dim_region"] == 1716
    assert counts["marts.fct_child_measurement"] > 10_000
    assert counts["raw.submissions"] > 1000
    assert counts["quarantine.rejected_files"] == 2
    assert counts["quarantine.rejected_rows"] > 0
    assert counts["quarantine.rejected_values"] > 0
    transports = {r[8] for r in first["raw.submissions"]}
    assert transports == {"portal", "landing"}

    # every mart column carries a description (COMMENT ON) for BI users, in the published file too
    con = duckdb.connect(str(published[0]), read_only=True)
    undocumented = con.execute(
        "select table_name || '.' || column_name from duckdb_columns() "
        "where schema_name = 'marts' and coalesce(comment, '') = ''"
    ).fetchall()
    con.close()
    con = duckdb.connect(str(work[0]), read_only=True)
    # every table built in Python holds exactly its declared columns and types (pipelines/tables.py)
    from pipelines.tables import TABLES

    for name, spec in TABLES.items():
        schema, table = name.split(".")
        got = con.execute("select column_name, data_type from duckdb_columns() where schema_name = ? "
                          "and table_name = ? order by column_index", [schema, table]).fetchall()
        assert got == spec.columns, name
    # the demo's zero heights and impossible weights cost their value only (issue 16): each nulled value
    # is recorded, its row reached the marts, and only the scores that need it are missing
    nulled = dict(con.execute("select column_name || ':' || reason_code, count(*) from quarantine.rejected_values "
                              "group by 1").fetchall())
    assert nulled.keys() == {"lenhei_cm:missing_value", "weight_kg:weight_out_of_range"}, nulled
    scores = con.execute(
        "select count(*) filter (where lenhei_cm is null and haz is null and whz is null and waz is not null), "
        "count(*) filter (where lenhei_cm is null), "
        "count(*) filter (where weight_kg is null and waz is null and whz is null and haz is not null), "
        "count(*) filter (where weight_kg is null) from marts.fct_child_measurement").fetchall()[0]
    assert scores[0] == scores[1] > 0 and scores[2] == scores[3] > 0, scores
    con.close()
    assert not undocumented, undocumented
