"""The landing folder's rule (pipelines.ingestion.landing), on real files: links and special files
refused unread, the size cap, files still being written or changed while read left for the next
run, vanished files skipped with a warning, uploads in progress left alone; the sensor agrees."""

from __future__ import annotations

import os
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.ingestion.identity import sha256_hex
from pipelines.ingestion.incoming import landing_incoming
from pipelines.ingestion.land import land_submissions
from pipelines.sensors import landing_fingerprints, new_arrivals
from tests.ingestion.toy_parser import toy_parse

OLD = time.time() - 3600
SECRET = b"KONVERGENSI_PSEUDONYM_KEY=hunter2-secret\nAWS_SECRET=xyz\n"
GOOD = "child_measurements/36.01.01.2001_2024-08.csv"


class Spy:
    """The toy parser, keeping every byte string it was handed (what ingestion read)."""

    def __init__(self):
        self.seen: list[bytes] = []

    def __call__(self, stream, files, hints=None):
        self.seen.extend(content for _, content in files)
        return toy_parse(stream, files, hints)


def _write(root: Path, rel: str, content: bytes, mtime: float = OLD) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    os.utime(path, (mtime, mtime))
    return path


def _land(con, root: Path, parse=toy_parse, run="run"):
    return land_submissions(con, landing_incoming(root), parse, run)


def _refused(con) -> dict[str, tuple[str, str]]:
    rows = con.execute("select file_name, reason_code, detail from quarantine.rejected_files").fetchall()
    return {name: (reason, detail) for name, reason, detail in rows}


def _everything(con) -> str:
    """Every value of every table, as text: what the warehouse holds."""
    tables = con.execute("select table_schema, table_name from information_schema.tables").fetchall()
    return "\n".join(str(con.execute(f'select * from "{s}"."{t}"').fetchall()) for s, t in tables)


def test_a_link_to_a_file_outside_is_refused_and_never_read(tmp_path):
    root = tmp_path / "landing"
    _write(root, GOOD, b"36.01.01.2001\n1\n")
    secret = _write(tmp_path / "outside", "environ", SECRET)
    (root / "child_measurements" / "36.01.01.2002_2024-08.csv").symlink_to(secret)
    # a link to a folder, and a whole stream folder that is a link
    (root / "child_measurements" / "more").symlink_to(secret.parent, target_is_directory=True)
    _write(tmp_path / "outside", "36.01_2024.csv", SECRET)
    (root / "aksi_reports").symlink_to(tmp_path / "outside", target_is_directory=True)
    fifo = root / "child_measurements" / "36.01.01.2003_2024-08.csv"
    os.mkfifo(fifo)
    _write(root, "households", b"not a stream folder\n")  # a stray file where a stream folder would be: ignored
    con, spy = duckdb.connect(), Spy()
    report = _land(con, root, spy)
    assert report.landed == 1 and report.rejected_files == 4 and not report.errors
    refused = _refused(con)
    assert {name: reason for name, (reason, _) in refused.items()} == {
        "36.01.01.2002_2024-08.csv": "not_regular_file", "more": "not_regular_file",
        "aksi_reports": "not_regular_file", "36.01.01.2003_2024-08.csv": "not_regular_file"}
    assert "symbolic link" in refused["36.01.01.2002_2024-08.csv"][1] and "FIFO" in refused[fifo.name][1]
    assert SECRET not in spy.seen and spy.seen == [b"36.01.01.2001\n1\n"]
    everything = _everything(con)
    assert "hunter2" not in everything and sha256_hex(SECRET) not in everything and str(secret) not in everything
    # the sensor agrees: it starts a run for them (to record them) without reading them
    current, _ = landing_fingerprints(root, {})
    assert len(current) == 5 and sha256_hex(SECRET) not in {fp[2] for fp in current.values()}
    # recorded once: a second run neither reads nor records them again
    again = _land(con, root, spy, "run-2")
    assert again.rejected_files == 0 and again.skipped_known == 5 and len(spy.seen) == 1


def test_a_file_over_the_cap_is_refused_unread_once(tmp_path, monkeypatch):
    monkeypatch.setenv("KONVERGENSI_MAX_SUBMISSION_BYTES", "100")
    root = tmp_path / "landing"
    _write(root, GOOD, b"36.01.01.2001\n1\n")
    big = _write(root, "child_measurements/36.01.01.2002_2024-08.csv", b"36.01.01.2002\n" + b"1\n" * 100)
    con, spy = duckdb.connect(), Spy()
    report = _land(con, root, spy)
    assert report.landed == 1 and report.rejected_files == 1
    reason, detail = _refused(con)[big.name]
    assert reason == "too_large" and "214 bytes, over the cap of 100" in detail
    assert spy.seen == [b"36.01.01.2001\n1\n"]
    status = con.execute("select status, size_bytes, period from raw.submissions where file_name = ?", [big.name])
    assert status.fetchall() == [("rejected_file", 214, "2024-08")]
    assert _land(con, root, spy, "run-2").rejected_files == 0
    # the sensor starts a run for it (to record it), with its stand-in hash, never reading it
    current, _ = landing_fingerprints(root, {})
    assert current[f"child_measurements/{big.name}"][2] != sha256_hex(big.read_bytes())
    monkeypatch.setenv("KONVERGENSI_MAX_SUBMISSION_BYTES", "")  # the default, 100 MiB: now it is read and lands
    assert _land(con, root, spy, "run-3").landed == 1 and spy.seen[-1] == big.read_bytes()


def test_a_file_deleted_between_listing_and_reading_is_skipped_with_a_warning(tmp_path, caplog):
    root = tmp_path / "landing"
    _write(root, GOOD, b"36.01.01.2001\n1\n")
    gone = _write(root, "child_measurements/36.01.01.2002_2024-08.csv", b"36.01.01.2002\n1\n")
    listed = list(landing_incoming(root))  # the listing (lstat) is done; then the file goes
    gone.unlink()
    con = duckdb.connect()
    report = land_submissions(con, listed, toy_parse, "run")
    assert report.landed == 1 and not report.errors  # not a failed run
    assert report.vanished == [f"landing:child_measurements/{gone.name}: disappeared between the listing and the read"]
    assert "deleted before they were read" in report.summary()
    assert f"child_measurements/{gone.name}" in caplog.text
    assert con.execute("select count(*) from raw.landing_fingerprints").fetchall() == [(1,)]


def test_a_file_still_being_written_is_left_for_the_next_run(tmp_path, monkeypatch):
    """Fresh mtime: not read, not refused, not fingerprinted, and the sensor does not see it either;
    once it has been quiet for the settle time, both take it."""
    monkeypatch.setenv("KONVERGENSI_LANDING_SETTLE_SECONDS", "60")
    root = tmp_path / "landing"
    _write(root, GOOD, b"36.01.01.2001\n1\n")
    fresh = _write(root, "child_measurements/36.01.01.2002_2024-08.csv", b"36.01.01.2002\n1\n", time.time())
    con, spy = duckdb.connect(), Spy()
    report = _land(con, root, spy)
    assert report.landed == 1 and report.rejected_files == 0 and not report.errors
    assert len(report.not_ready) == 1 and fresh.name in report.not_ready[0] and "still being written" in report.not_ready[0]
    assert con.execute("select path from raw.landing_fingerprints").fetchall() == [(GOOD,)]
    current, _ = landing_fingerprints(root, {})
    assert list(current) == [GOOD]
    os.utime(fresh, (OLD, OLD))
    later = _land(con, root, spy, "run-2")
    assert later.landed == 1 and later.not_ready == [] and later.skipped_known == 1
    cursor, _ = landing_fingerprints(root, {})
    assert sorted(cursor) == [GOOD, f"child_measurements/{fresh.name}"]
    # a known file being rewritten keeps its entry in the sensor's cursor: the same bytes start no run
    _write(root, GOOD, b"36.01.01.2001\n1\n", time.time())
    rewriting, _ = landing_fingerprints(root, cursor)
    assert rewriting == cursor and new_arrivals(cursor, rewriting) == []


def test_a_file_that_changes_between_listing_and_reading_is_left_for_the_next_run(tmp_path):
    root = tmp_path / "landing"
    growing = _write(root, GOOD, b"36.01.01.2001\n1\n")
    listed = list(landing_incoming(root))
    with growing.open("ab") as f:  # the writer was not done
        f.write(b"2\n")
    os.utime(growing, (OLD, OLD))
    con = duckdb.connect()
    report = land_submissions(con, listed, toy_parse, "run")
    assert report.landed == 0 and not report.errors and "changed" in report.not_ready[0]
    assert con.execute("select count(*) from raw.landing_fingerprints").fetchall() == [(0,)]
    later = _land(con, root, run="run-2")
    assert later.landed == 1
    assert con.execute("select n_source_rows from raw.submissions").fetchall() == [(3,)]  # the whole file


@pytest.mark.parametrize("name", ["36.01.01.2002_2024-08.csv.part", "~$36.01.01.2002_2024-08.xlsx",
                                  "36.01.01.2002_2024-08.csv.tmp"])  # dotfiles: left alone before this rule
def test_uploads_in_progress_are_left_alone_until_renamed(tmp_path, name):
    root = tmp_path / "landing"
    _write(root, GOOD, b"36.01.01.2001\n1\n")
    upload = _write(root, f"child_measurements/{name}", b"36.01.01.2002\n1\n")
    con, spy = duckdb.connect(), Spy()
    report = _land(con, root, spy)
    assert report.landed == 1 and report.rejected_files == 0 and report.not_ready == [] and not report.errors
    assert con.execute("select file_name from raw.submissions").fetchall() == [(Path(GOOD).name,)]
    assert con.execute("select path from raw.landing_fingerprints").fetchall() == [(GOOD,)]
    assert list(landing_fingerprints(root, {})[0]) == [GOOD]
    upload.rename(root / "child_measurements" / "36.01.01.2002_2024-08.csv")
    assert _land(con, root, spy, "run-2").landed == 1


def test_files_are_listed_in_the_order_of_their_paths_parts_with_relative_paths(tmp_path):
    """Sub-folders sort as Path sorts them (by part: ``a/z`` before ``a-b``, though ``/`` sorts
    after ``-`` as a character), so landing and version order do not change with the listing code."""
    names = ["child_measurements/a-b/36.01.01.2001_2024-08.csv", "child_measurements/a/z/36.01.01.2002_2024-08.csv",
             "child_measurements/36.01.01.2003_2024-08.csv", "child_measurements/a/36.01.01.2004_2024-08.csv",
             "child_measurements/A/36.01.01.2005_2024-08.csv"]
    for name in names:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x\n")
        os.utime(path, (OLD, OLD))
    listed = list(landing_incoming(tmp_path, ["child_measurements"]))
    assert [inc.stat.path for inc in listed] == sorted(names, key=lambda n: Path(tmp_path / n))
    assert [inc.file_name for inc in listed] == [Path(n).name for n in [inc.stat.path for inc in listed]]
    assert all(inc.fetch() == b"x\n" for inc in listed)


def test_a_name_filter_lists_and_stats_only_the_files_it_keeps(tmp_path):
    """A quiet night over one month looks at that month's files only: the others are not listed,
    not even stat'ed (a link left for another month would otherwise be refused), and sub-folders
    are still walked."""
    from pipelines.ingestion.landing import scan

    folder = tmp_path / "child_measurements"
    (folder / "puskesmas").mkdir(parents=True)
    (folder / "36.01.01.2001_2024-08.csv").write_text("x")
    (folder / "36.01.01.2001_2024-09.csv").write_text("x")
    (folder / "puskesmas" / "36.01.01.2002_2024-09.csv").write_text("x")
    (folder / "36.01.01.2003_2024-08.csv").symlink_to(tmp_path / "nowhere")
    keep = lambda stream, name: not name.endswith("_2024-08.csv")  # noqa: E731
    assert [e.relative for e in scan(tmp_path, ["child_measurements"], keep)] == [
        "child_measurements/36.01.01.2001_2024-09.csv", "child_measurements/puskesmas/36.01.01.2002_2024-09.csv"]
    assert len(list(scan(tmp_path, ["child_measurements"]))) == 4  # without a filter the link is listed (refused later)
