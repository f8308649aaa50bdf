"""parse_batch: many files of one stream typed in one pass give exactly the per-file results
(pipelines.parsing.parse), and the two CSV readers (pyarrow for big files, csv module for small
ones) read the same cells (pipelines.parsing.read_delimited)."""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd
import pytest

from pipelines.parsing import read_delimited, readers
from pipelines.parsing.file_identity import FileHints
from pipelines.parsing.layouts import LAYOUTS, STREAMS
from pipelines.parsing.parse import ParseResult, parse_batch, parse_submission
from pipelines.parsing.pseudonym import Pseudonymiser
from pipelines.parsing.regions import RegionIndex
from pipelines.parsing.values import squeeze_whitespace
from tests.hints import name_hints
from tests.paths import FIXTURES

FIX = FIXTURES / "sources"
KEY = b"batch-test-key-not-secret"
PSEUDO = Pseudonymiser(KEY)


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, RegionIndex]:
    from pipelines.synthetic.generate import generate

    root = tmp_path_factory.mktemp("small")
    generate(root, "small", 7)
    return root, RegionIndex.from_csv(root / "region_master.csv")


def assert_same(a: ParseResult, b: ParseResult, where: str) -> None:
    assert (a.file_error, a.n_source_rows, a.warnings, a.identity) == (
        b.file_error, b.n_source_rows, b.warnings, b.identity), where
    pd.testing.assert_frame_equal(a.rows, b.rows, obj=f"{where} rows")
    pd.testing.assert_frame_equal(a.rejects, b.rejects, obj=f"{where} rejects")


def files_of(folder: Path) -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in sorted(folder.iterdir()) if p.is_file()]


def singles(stream: str, files, regions, hints=None) -> list[ParseResult]:
    hints = hints or name_hints(stream, files)
    return [parse_submission(stream, content, name, hint, pseudonymiser=PSEUDO, regions=regions)
            for (name, content), hint in zip(files, hints, strict=True)]


def batch_of(stream: str, files, regions, hints=None) -> list[ParseResult]:
    return parse_batch(stream, files, hints or name_hints(stream, files), pseudonymiser=PSEUDO, regions=regions)


@pytest.mark.parametrize("stream", STREAMS)
def test_batch_equals_one_file_at_a_time_on_generated_files(small, stream):
    root, regions = small
    files = files_of(root / stream)
    # Every file alone is slow (a fixed cost per call); a spread sample keeps the test short,
    # and the special files (broken, missing columns, _revisi) are always in it.
    sample = files[:: max(1, len(files) // 15)] + [f for f in files if "revisi" in f[0] or "broken" in f[0]]
    sample += [f for f in files if f not in sample][-3:]
    batch = batch_of(stream, sample, regions)
    assert len(batch) == len(sample)
    for (name, _), got, want in zip(sample, batch, singles(stream, sample, regions), strict=True):
        assert_same(got, want, f"{stream}/{name}")
    assert sum(len(r.rows) for r in batch) > 0


@pytest.mark.parametrize("stream", ["child_measurements", "households", "village_scorecard"])
def test_result_of_a_file_does_not_depend_on_its_batch(small, stream):
    root, regions = small
    files = files_of(root / stream)[:100]
    whole = batch_of(stream, files, regions)
    shuffled = files[:]
    random.Random(3).shuffle(shuffled)
    chunks = [shuffled[i:i + 34] for i in range(0, len(shuffled), 34)]
    by_name = {name: r for chunk in chunks
               for (name, _), r in zip(chunk, batch_of(stream, chunk, regions), strict=True)}
    for (name, _), result in zip(files, whole, strict=True):
        assert_same(result, by_name[name], f"{stream}/{name}")
    assert sum(r.n_source_rows for r in whole) == sum(len(r.rows) + r.n_rejected_rows for r in whole)
    if stream == "child_measurements":  # the generated months do carry bad measurements
        assert sum(len(r.rejects) for r in whole) > 0


def test_fixtures_batched_with_generated_files(small):
    _, regions = small
    for folder in sorted(p for p in FIX.iterdir() if p.is_dir()):
        files = files_of(folder)
        batch = batch_of(folder.name, files + files[:1], regions)
        for (name, _), got, want in zip(files + files[:1], batch, singles(folder.name, files + files[:1], regions),
                                        strict=True):
            assert_same(got, want, f"fixture {folder.name}/{name}")


def _csv(rows: list[list[str]], sep: str = ";") -> bytes:
    return ("\r\n".join(sep.join(r) for r in rows) + "\r\n").encode()


def _place(regions: RegionIndex) -> dict[str, str]:
    """Names of the first village of the master with its district and regency."""
    frame = regions.frame.set_index("code")
    village = frame[frame["level"] == "village"].iloc[0]
    district = frame.loc[village["parent_code"]]
    return {"village_name": village["name"], "district_name": district["name"],
            "regency_name": frame.loc[district["parent_code"], "name"]}


def _child_row(place: dict[str, str], no: int, birth: str, measured: str, weight: str = "10,5") -> list[str]:
    row = dict.fromkeys(LAYOUTS["child_measurements"].canonical, "")
    row.update(row_no=str(no), nik=f"36040150012300{no:02d}", child_name=f"ANAK {no}", sex="L", birth_date=birth,
               measured_on=measured, weight_kg=weight, lenhei_cm="80,5", measure_position="Terlentang", **place)
    return list(row.values())


def test_per_file_decisions_stay_per_file(small):
    """m/d vs d/m is decided per file, warnings and their counts are per file, a header-only file,
    a file without an optional column and a broken file sit in the same batch."""
    _, regions = small
    place = _place(regions)
    head = list(LAYOUTS["child_measurements"].headers)
    dmy = _csv([head, _child_row(place, 1, "15/1/2023", "13/8/2024"), _child_row(place, 2, "2/1/2023", "1/8/2024")])
    mdy = _csv([head, _child_row(place, 1, "1/15/2023", "8/13/2024"),
                _child_row(place, 2, "2/1/2023", "8/1/2024", "abc")])
    short = [c if i != 1 else "123" for i, c in enumerate(_child_row(place, 3, "1/2/2023", "8/1/2024"))]
    short_nik = _csv([head, short])
    no_posyandu = _csv([[h for h in head if h != "Posyandu"],
                        [c for h, c in zip(head, _child_row(place, 4, "1/2/2023", "8/1/2024"), strict=True)
                         if h != "Posyandu"]])
    files = [("a.csv", dmy), ("b.csv", mdy), ("c.csv", _csv([head])), ("d.csv", b"\x00\x01\x02garbage"),
             ("e.csv", short_nik), ("f.csv", no_posyandu), ("g.csv", dmy)]
    hints = [FileHints("36.01.01.2001", "2024-08")] * len(files)
    batch = batch_of("child_measurements", files, regions, hints)
    for (name, _), got, want in zip(files, batch, singles("child_measurements", files, regions, hints), strict=True):
        assert_same(got, want, name)
    a, b, c, d, e, f, g = batch
    assert a.rows["measured_on"].astype(str).tolist() == ["2024-08-13", "2024-08-01"]
    assert b.rows["measured_on"].astype(str).tolist() == ["2024-08-13", "2024-08-01"]  # the bad weight alone is lost
    assert b.rows["weight_kg"].isna().tolist() == [False, True]
    warned = {name: {w.code: w for w in r.warnings} for name, r in zip("abe", (a, b, e), strict=True)}
    assert warned["a"]["date_order_guessed"].detail == "slash dates read as dmy: 2 dates have a day above 12 first"
    assert "date_order_guessed" not in warned["b"]
    assert b.rejects[["row_number", "reason_code", "level"]].values.tolist() == [[3, "invalid_number", "value"]]
    assert b.n_rejected_rows == 0
    assert c.rows.empty and c.n_source_rows == 0 and c.file_error is None
    assert d.file_error.startswith("undecodable") and d.rows.columns.tolist() == a.rows.columns.tolist()
    assert warned["e"]["nik_fallback"].n_rows == 1
    assert "nik_fallback" not in warned["a"]
    assert f.rows["posyandu"].isna().all() and len(f.rows) == 1
    assert_same(a, g, "same file twice")


def _big_csv(folder: Path) -> bytes:
    """A file well above the pyarrow threshold: the fixture's rows repeated, one quoted cell
    holding the delimiter and a line break, blank lines in between."""
    text = (folder / "eppgbm_bom_semicolon.csv").read_bytes().decode("utf-8-sig").replace("\r\n", "\n")
    head, *rows = [line for line in text.split("\n") if line]
    cells = rows[0].split(";")
    cells[2] = '"ANAK; DENGAN\nBARIS BARU"'
    rows.append(";".join(cells))
    body = "\n".join(rows * 40)
    return ("\ufeff" + head + "\n" + body + "\n\n" + body + "\n").encode()


@pytest.mark.parametrize("with_bad_row", [False, True])
def test_pyarrow_and_csv_module_readers_agree(small, monkeypatch, with_bad_row):
    _, regions = small
    content = _big_csv(FIX / "child_measurements")
    if with_bad_row:  # pyarrow refuses a row with too many cells: the row-by-row reader takes over
        content += b"1;2;" + b";" * 40 + b"x\n"
    assert len(content) > read_delimited.ARROW_MIN_BYTES
    fast = readers.read_table(content, "big.csv", LAYOUTS["child_measurements"])
    monkeypatch.setattr(read_delimited, "ARROW_MIN_BYTES", len(content) + 1)
    slow = readers.read_table(content, "big.csv", LAYOUTS["child_measurements"])
    assert fast.names == slow.names and fast.row_numbers.tolist() == slow.row_numbers.tolist()
    pd.testing.assert_frame_equal(fast.frame, slow.frame)
    assert len(slow.bad_rows) == int(with_bad_row)
    assert "ANAK; DENGAN\nBARIS BARU" in fast.frame["child_name"].tolist()
    by_rows = parse_submission("child_measurements", content, "big.csv", pseudonymiser=PSEUDO, regions=regions)
    monkeypatch.setattr(read_delimited, "ARROW_MIN_BYTES", 0)
    assert_same(parse_submission("child_measurements", content, "big.csv", pseudonymiser=PSEUDO, regions=regions),
                by_rows, "big.csv")


def test_squeeze_whitespace_is_the_regex_replace():
    text = pd.Series(["a  b", "a b", " \t x\r\ny ", None, "", "plain"], dtype="str")
    for repl in (" ", ""):
        want = text.str.replace(r"[ \t\r\n]+", repl, regex=True)
        pd.testing.assert_series_equal(squeeze_whitespace(text, repl), want)


def test_token_matches_the_one_value_hmac():
    values = pd.Series(["3604015001230001", " anak  contoh ", None, "3604015001230001"], dtype="str")
    tokens = PSEUDO.token("nik", values)
    assert tokens.iloc[0] == PSEUDO.token_one("nik", "3604015001230001") == tokens.iloc[3]
    assert tokens.iloc[1] == PSEUDO.token_one("nik", "ANAK CONTOH") and pd.isna(tokens.iloc[2])
    assert str(tokens.dtype) == "str"


def test_a_file_s_period_is_the_label_most_of_its_rows_carry_ties_to_the_later():
    """Per file, the most frequent period label of its rows; NA labels are not counted, a tie goes
    to the later period, a file without a label gets None; the labels' dtype does not matter."""
    import numpy as np
    import pandas as pd

    from pipelines.parsing.file_identity import most_common_period

    files = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 4, 4, 4], dtype="int64")
    labels = ["2024-08", "2024-07", "2024-08", "2024-07", None, "2024-09", None, None, None, "2023-12",
              "2024-01", "2024-01"]
    for dtype in ("str", "string", object):
        got = most_common_period(files, pd.Series(labels, dtype=dtype), 5)
        assert got == ["2024-08", "2024-09", None, None, "2024-01"], dtype
    assert most_common_period(np.zeros(0, dtype="int64"), pd.Series([], dtype="str"), 2) == [None, None]


def test_a_group_of_arrow_and_csv_module_parts_keeps_every_cell_in_file_order():
    """Small files' cells (object arrays from the csv module) are converted a run at a time, between
    the Arrow arrays of big files: the column is their concatenation, in the files' order."""
    import numpy as np
    import pyarrow as pa

    from pipelines.parsing.parse import _text_column

    small_a, small_b = np.array(["a", "", "b"], dtype=object), np.array(["c"], dtype=object)
    big = pa.array(["x", "y"], type=pa.large_string())
    empty = np.array([], dtype=object)
    column = _text_column([small_a, small_b, big, empty, small_b, big])
    assert column.type == pa.large_string()
    assert column.to_pylist() == ["a", "", "b", "c", "x", "y", "c", "x", "y"]
    assert _text_column([big]) is big and _text_column([small_b]).to_pylist() == ["c"]
