"""A night with poison files in it (issue 18): workbooks that make the XLSX reader abort, a CSV
500,000 columns wide, JSON nested or numbered past what Python reads. Each is refused with its
reason in quarantine.rejected_files, the good files of the same batch land, in one process and in
forked workers, and the next night reads none of them again. Generated village files, the real
parser, a real DuckDB file; the poison files are built here."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipelines.ingestion.incoming import landing_incoming
from pipelines.ingestion.land import land_submissions
from pipelines.parsing import readers
from pipelines.parsing.parse import parse_batch_joined
from pipelines.parsing.pseudonym import Pseudonymiser
from pipelines.parsing.regions import RegionIndex
from pipelines.synthetic.generate import generate
from tests.parsing.crafted import (
    deep_json,
    far_corner_xlsx,
    huge_int_json,
    huge_shared_strings_xlsx,
    wide_csv,
)

STREAM = "child_measurements"
GOOD_FILES = 8


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gen")
    generate(out, scale="small", seed=7)
    return out


@pytest.fixture(scope="module")
def parse(generated):
    regions = RegionIndex.from_frame(pd.read_csv(generated / "region_master.csv", dtype=str, keep_default_na=False))
    pseudonymiser = Pseudonymiser(b"poison-test-key")

    def _parse(stream, files, hints=None):
        return parse_batch_joined(stream, files, hints, pseudonymiser=pseudonymiser, regions=regions)

    return _parse


def _landing(generated: Path, root: Path, poison: dict[str, bytes]) -> list[str]:
    """Good August files and the poison files, named like any village's (for June); the good
    files' names."""
    (root / STREAM).mkdir(parents=True)
    good = sorted((generated / STREAM).glob("*_2024-08.*"))[:GOOD_FILES]
    assert any(p.suffix == ".xlsx" for p in good) and any(p.suffix == ".csv" for p in good)
    for path in good:
        shutil.copy2(path, root / STREAM / path.name)
    for (name, content), path in zip(poison.items(), good, strict=False):
        (root / STREAM / f"{path.name.split('_')[0]}_2024-06.{name}").write_bytes(content)
    return [p.name for p in good]


def _land(con, root: Path, parse, workers: int, reads: list[str] | None = None):
    def incoming():
        for inc in landing_incoming(root):
            if reads is not None:
                inc.fetch = lambda f=inc.fetch, n=inc.file_name: reads.append(n) or f()
            yield inc

    return land_submissions(con, incoming(), parse, "run", workers=workers)


@pytest.mark.parametrize("workers", [0, 2])
def test_poison_files_are_refused_and_the_good_files_of_their_batch_land(generated, tmp_path, parse, workers):
    root = tmp_path / "landing"
    good = _landing(generated, root, {"xlsx": far_corner_xlsx(), "csv": wide_csv(), "json": deep_json()})
    (root / STREAM / "36.01.01.2001_2024-05.xlsx").write_bytes(huge_shared_strings_xlsx())
    (root / STREAM / "36.01.01.2001_2024-04.json").write_bytes(huge_int_json())
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    report = _land(con, root, parse, workers)
    assert report.landed == len(good) and report.rejected_files == 5 and not report.errors
    rows = con.execute("select file_name, reason_code, detail from quarantine.rejected_files").fetchall()
    assert {name.split("_", 1)[1]: (reason, detail.split(";")[0]) for name, reason, detail in rows} == {
        "2024-06.xlsx": ("too_large", "too_large: a cell in column 16,384 (at most 256 columns are read)"),
        "2024-05.xlsx": ("too_large", "too_large: sharedStrings declares count=4,000,000,000 strings"),
        "2024-06.csv": ("too_large", "too_large: the header has 500,000 columns (limit 256)"),
        "2024-06.json": ("bad_json", "bad_json: nested more than 32 levels deep"),
        "2024-04.json": ("bad_json", "bad_json: a number with 100,000 digits (limit 4,300)"),
    }
    landed = {f for (f,) in con.execute("select file_name from raw.submissions where status = 'accepted'").fetchall()}
    assert landed == set(good)
    reads: list[str] = []
    again = _land(con, root, parse, workers, reads)
    assert again.landed == 0 and again.rejected_files == 0 and again.skipped_known == len(good) + 5 and reads == []


@pytest.mark.parametrize("workers", [0, 2])
def test_a_workbook_that_kills_its_reader_is_refused_once_and_for_all(generated, tmp_path, parse, monkeypatch,
                                                                    workers):
    """The reader really dies (SIGABRT, as calamine does on an allocation it cannot get); so does
    it for a workbook that hides its declared size from the checks: the run does not."""
    root = tmp_path / "landing"
    good = _landing(generated, root, {})
    xlsx = sorted((root / STREAM).glob("*.xlsx"))[0]
    poison = xlsx.read_bytes() + b"\0"  # still a workbook, other bytes
    (root / STREAM / xlsx.name.replace("_2024-08", "_2024-06")).write_bytes(poison)
    (root / STREAM / xlsx.name.replace("_2024-08", "_2024-05")).write_bytes(huge_shared_strings_xlsx(pad=70_000))
    real = readers.read_checked_xlsx

    def reader(content: bytes, layout):
        if content == poison:
            os.kill(os.getpid(), signal.SIGABRT)
        return real(content, layout)

    monkeypatch.setattr(readers, "read_checked_xlsx", reader)

    def parse_with_that_reader(stream, files, hints=None):
        readers.read_checked_xlsx = reader  # in the process that prepares the batch: a Dask worker, or this one
        return parse(stream, files, hints)

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    report = _land(con, root, parse_with_that_reader, workers)
    assert report.landed == len(good) and report.rejected_files == 2
    assert con.execute("select reason_code, detail from quarantine.rejected_files order by file_name").fetchall() == [
        ("too_large", "too_large: reading needed more memory than the 2,048 MB allowed"),
        ("parser_crashed", "parser_crashed: the reader died (SIGABRT)"),
    ]
    reads: list[str] = []
    assert _land(con, root, parse_with_that_reader, workers, reads).landed == 0 and reads == []
