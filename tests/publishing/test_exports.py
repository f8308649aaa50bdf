"""Parquet exports of the marts: every table, and formula-like text neutralised."""

import duckdb
import pyarrow.parquet as pq

from pipelines.publishing.exports import export_marts_parquet


def test_marts_exported_with_formulas_escaped(tmp_path):
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    con.execute("create schema marts; create schema raw")
    con.execute(
        """create table marts.dim_x as select * from (values
        ('=HYPERLINK("http://x","y")', 1), ('=cmd|'' /C calc''!A0', 2), ('+1+2', 3), ('@SUM(A1)', 4),
        ('-', 5), ('-3.5', 6), ('Sukamaju', 7), ('- catatan', 8)) t(name, n)"""
    )
    con.execute("create table raw.secret as select 1 as a")
    con.close()
    figures = export_marts_parquet(db, tmp_path / "parquet")
    assert figures["parquet_files"] == 1
    assert not (tmp_path / "parquet" / "secret.parquet").exists()
    names = pq.read_table(tmp_path / "parquet" / "dim_x.parquet").column("name").to_pylist()
    assert names[:4] == ["'=HYPERLINK(\"http://x\",\"y\")", "'=cmd|' /C calc'!A0", "'+1+2", "'@SUM(A1)"]
    assert names[4:7] == ["-", "-3.5", "Sukamaju"]
    assert names[7] == "'- catatan"
    # ZSTD at a light level: nearly the default level's size at about half its CPU
    assert pq.ParquetFile(tmp_path / "parquet" / "dim_x.parquet").metadata.row_group(0).column(0).compression == "ZSTD"
