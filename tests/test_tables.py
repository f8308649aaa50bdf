"""pipelines/tables.py declares every table built in Python: each declaration names a builder that
really builds it, every parser's output fits its declared table column for column and type for
type, and an older warehouse is migrated to the declaration instead of breaking."""

from __future__ import annotations

import importlib

import duckdb
import pytest

from pipelines import tables
from pipelines.parsing.file_identity import FileHints
from pipelines.parsing.layouts import PERIOD_GRAIN, STREAMS
from pipelines.parsing.parse import parse_batch_joined
from pipelines.parsing.pseudonym import Pseudonymiser
from pipelines.parsing.regions import RegionIndex
from pipelines.settings import BUNDLED_REGION_MASTER
from tests.paths import FIXTURES


def _builder(spec: tables.TableSpec):
    module, name = spec.built_by.split(":")
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("name", sorted(tables.TABLES))
def test_each_declared_table_names_a_builder_that_builds_it(name):
    spec = tables.TABLES[name]
    builder = _builder(spec)
    assert (tables.ROOT / spec.source_file).is_file()
    if spec.is_asset:
        assert spec.key in builder.keys, f"{spec.built_by} does not produce {name}"


def test_every_python_asset_table_is_declared_and_no_key_is_made_twice():
    from pipelines.definitions import PYTHON_ASSETS

    produced = [key for asset in PYTHON_ASSETS for key in asset.keys]
    assert len(produced) == len(set(produced))
    assert {".".join(k.path) for k in produced} == {n for n, s in tables.TABLES.items() if s.is_asset}


@pytest.fixture(scope="module")
def parsed_frames():
    regions = RegionIndex.from_csv(BUNDLED_REGION_MASTER)
    pseudo = Pseudonymiser(b"tables-test-key-not-secret")
    frames = {}
    for stream in STREAMS:
        folder = FIXTURES / "sources" / stream
        files = [(p.name, p.read_bytes()) for p in sorted(folder.iterdir())] + [("empty.csv", b"")]
        # as if named <submitter>_<period>: every file lands, whatever its rows tell
        hint = FileHints("DINKES" if stream == "opd_programmes" else "36",
                         {"month": "2024-08", "quarter": "2024-Q3", "year": "2024"}[PERIOD_GRAIN[stream]])
        frames[stream] = parse_batch_joined(stream, files, [hint] * len(files), pseudonymiser=pseudo,
                                            regions=regions).rows
    return frames


@pytest.mark.parametrize("stream", STREAMS)
def test_parser_output_fits_its_declared_raw_table(parsed_frames, stream):
    rows = parsed_frames[stream].copy()
    rows.insert(0, "submission_id", "s")
    con = duckdb.connect()
    con.register("_rows", rows)
    got = [(c, t) for c, t, *_ in con.execute("describe select * from _rows").fetchall()]
    assert got == tables.TABLES[f"raw.{stream}"].columns, (
        "the parser's columns changed: declare the new schema in pipelines/tables.py"
    )


def test_ensure_creates_then_migrates_an_older_table_without_losing_rows():
    con = duckdb.connect()
    con.execute("create schema raw")
    # As an older warehouse had it: a column missing, one with another type, one since dropped.
    con.execute("create table raw.survey_figures (submission_id varchar, row_number integer, "
                "regency_code varchar, year varchar, old_note varchar)")
    con.execute("insert into raw.survey_figures values ('s1', 1, '36.01', '2024', 'x')")
    changes = tables.ensure(con, "raw.survey_figures")
    assert any("add column stunting_ssgi_pct" in c for c in changes)
    assert any("alter column year set data type BIGINT" in c for c in changes)
    cols = dict(con.execute("select column_name, data_type from duckdb_columns() "
                            "where table_name = 'survey_figures'").fetchall())
    assert cols["year"] == "BIGINT" and cols["row_number"] == "BIGINT" and cols["old_note"] == "VARCHAR"
    assert con.execute("select year, regency_code, stunting_ssgi_pct from raw.survey_figures").fetchall() == [
        (2024, "36.01", None)]
    assert tables.ensure(con, "raw.survey_figures") == []  # now current: nothing to do
    tables.ensure(con, "raw.submissions")
    assert [c for c, _ in tables.TABLES["raw.submissions"].columns] == [
        r[0] for r in con.execute("describe raw.submissions").fetchall()]
