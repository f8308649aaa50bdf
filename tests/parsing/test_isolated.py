"""Reading in a child process (pipelines.parsing.isolated): a child that dies by a signal, runs
out of its memory or hangs costs its file a refusal, never this process; the files around it are
read. The children here really die."""

from __future__ import annotations

import os
import resource
import signal
import time
from pathlib import Path

import pytest

from pipelines.parsing import readers
from pipelines.parsing.cells import FileError
from pipelines.parsing.isolated import read_isolated
from pipelines.parsing.layouts import CHILD_MEASUREMENTS
from tests.paths import FIXTURES

SERIAL_DATES = FIXTURES / "sources" / "child_measurements" / "eppgbm_serial_dates.xlsx"


def _kill_on(marker: bytes, log: Path | None = None, sig: int = signal.SIGSEGV):
    def read(job: bytes) -> bytes:
        if job == marker:
            if log is not None:
                with log.open("a") as f:
                    f.write(f"{os.getpid()}\n")
            os.kill(os.getpid(), sig)
        return job.upper()

    return read


def test_a_child_killed_by_a_signal_refuses_its_file_and_the_others_are_read(tmp_path):
    log = tmp_path / "deaths"
    results = read_isolated(_kill_on(b"poison", log), [b"a", b"poison", b"c"])
    assert results[0] == b"A" and results[2] == b"C"
    assert isinstance(results[1], FileError)
    assert str(results[1]) == "parser_crashed: the reader died (SIGSEGV)"
    deaths = log.read_text().split()
    assert len(deaths) == 2 and os.getpid() not in {int(p) for p in deaths}  # two children, not us


def test_one_death_is_retried_before_the_file_is_refused(tmp_path):
    once = tmp_path / "died once"

    def read(job: bytes) -> bytes:
        if job == b"b" and not once.exists():
            once.touch()
            os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's OOM killer would
        return job

    assert read_isolated(read, [b"a", b"b", b"c"]) == [b"a", b"b", b"c"]


def test_a_hanging_reader_is_stopped():
    started = time.monotonic()
    results = read_isolated(lambda job: time.sleep(60) if job == b"slow" else job, [b"slow", b"x"], timeout_s=0.3)
    assert str(results[0]) == "parser_crashed: reading took over 0.3 s and was stopped" and results[1] == b"x"
    assert time.monotonic() - started < 10


def test_a_reader_over_its_memory_is_refused_as_too_large():
    def read(job: int) -> int:
        return len(bytearray(job))

    results = read_isolated(read, [1 << 30, 10], memory_bytes=256 * 1024**2)
    assert str(results[0]) == "too_large: reading needed more memory than the 256 MB allowed"
    assert results[1] == 10


def test_reader_errors_cross_back_and_bugs_withhold_their_message():
    def read(job: str) -> str:
        if job == "missing":
            raise FileError("missing_columns", "NIK")
        raise ValueError("3604015001230001 is a NIK")

    missing, bug = read_isolated(read, ["missing", "bug"])
    assert (missing.code, missing.message) == ("missing_columns", "NIK")
    assert bug.code == "internal_error" and bug.message.startswith("ValueError at test_isolated.py:")
    assert "3604" not in str(bug)


def test_a_workbook_that_kills_its_reader_is_refused_and_the_batch_is_read(monkeypatch, tmp_path):
    good = SERIAL_DATES.read_bytes()
    poison = good + b"\0"  # other bytes, still a workbook
    real = readers.read_checked_xlsx

    def reader(content: bytes, layout):
        if content == poison:
            os.kill(os.getpid(), signal.SIGABRT)  # what calamine does when an allocation fails
        return real(content, layout)

    monkeypatch.setattr(readers, "read_checked_xlsx", reader)
    results = readers.read_tables([("a.xlsx", good), ("b.xlsx", poison), ("c.xlsx", good)], CHILD_MEASUREMENTS)
    assert str(results[1]) == "parser_crashed: the reader died (SIGABRT)"
    assert len(results[0]) == len(results[2]) == 4


def _children() -> set[str]:
    return {c for task in Path("/proc/self/task").iterdir() for c in (task / "children").read_text().split()}


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="Linux /proc only")
def test_no_child_is_left_behind():
    before = _children()
    assert read_isolated(lambda j: j * 2, list(range(5))) == [0, 2, 4, 6, 8]
    read_isolated(_kill_on(b"x"), [b"x"])
    assert _children() == before


def test_a_process_with_many_files_open_still_reads():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2048:
        pytest.skip("cannot open 1,100 files here")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2048), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]  # the pipe lands past select()'s 1024
    try:
        assert read_isolated(lambda j: j + 1, [1, 2]) == [2, 3]
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# The spawner (isolated.start_spawner): readers forked by a small process started early, so that a
# large process that reads batch after batch is not itself forked for each. Readers defined at module
# level pickle by reference and go through it; a closure is forked here.

@pytest.fixture
def spawner():
    from pipelines.parsing import isolated

    isolated.stop_spawner()
    started = isolated.start_spawner()
    try:
        yield started
    finally:
        isolated.stop_spawner()


def _with_parent(job):
    return job * 2, os.getppid()


def _dies_hangs_or_allocates(job):
    if job == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    if job == "hang":
        time.sleep(60)
    if isinstance(job, int):
        return len(bytearray(job))
    return job.upper()


def test_readers_come_from_the_spawner_and_read_the_same(spawner):
    results = read_isolated(_with_parent, [1, 2, 3])
    assert [r[0] for r in results] == [2, 4, 6]
    assert {r[1] for r in results} == {spawner.pid} != {os.getpid()}


def test_through_the_spawner_deaths_hangs_and_memory_are_judged_as_before(spawner):
    results = read_isolated(_dies_hangs_or_allocates, ["a", "segv", "hang", 1 << 30, 10, "b"],
                            memory_bytes=256 * 1024**2, timeout_s=0.5)
    assert results[0] == "A" and results[4] == 10 and results[5] == "B"
    assert str(results[1]).startswith("parser_crashed: the reader died (SIGSEGV)")
    assert str(results[2]) == "parser_crashed: reading took over 0.5 s and was stopped"
    assert str(results[3]).startswith("too_large: reading needed more memory than the 256 MB allowed")
    assert read_isolated(_with_parent, [5])[0][1] == spawner.pid  # still in service


def test_a_closure_is_forked_here_while_the_spawner_runs(spawner):
    assert read_isolated(lambda j: (j, os.getppid()), [7]) == [(7, os.getpid())]


def test_when_the_spawner_dies_readers_are_forked_here(spawner):
    from pipelines.parsing import isolated

    os.kill(spawner.pid, signal.SIGKILL)
    os.waitpid(spawner.pid, 0)
    assert read_isolated(_with_parent, [1, 2]) == [(2, os.getpid()), (4, os.getpid())]
    assert isolated._SPAWNER[0] is None


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="Linux /proc only")
def test_the_spawner_ends_when_stopped_and_leaves_no_child(spawner):
    from pipelines.parsing import isolated

    before = _children()
    assert str(spawner.pid) in before
    read_isolated(_dies_hangs_or_allocates, ["x", "segv"])
    isolated.stop_spawner()
    assert not Path(f"/proc/{spawner.pid}").exists()
    assert _children() == before - {str(spawner.pid)}


def test_workbooks_read_through_the_spawner_are_read_as_here(spawner):
    from pipelines.parsing import isolated

    books = sorted((FIXTURES / "sources").rglob("*.xlsx"))
    assert books
    files = [(b.name, b.read_bytes()) for b in books]
    through = readers.read_tables(files, CHILD_MEASUREMENTS)
    isolated.stop_spawner()
    here = readers.read_tables(files, CHILD_MEASUREMENTS)
    assert [_plain(t) for t in through] == [_plain(t) for t in here]
    assert sum(isinstance(t, FileError) for t in here) < len(here)


def _plain(table):
    """A RawTable (or FileError) as plain values, to compare two reads."""
    if isinstance(table, FileError):
        return str(table)
    cells = [c.to_pylist() if hasattr(c, "to_pylist") else list(c) for c in table.cells]
    return (table.names, cells, list(table.row_numbers), table.file_format, [repr(w) for w in table.warnings],
            table.bad_rows)


def test_a_spawner_started_after_arrow_read_a_csv_forks_sound_readers():
    """pyarrow's CSV reader leaves a signal self-pipe whose fork handler closes it in every child:
    the spawner keeps inherited pipes (it closes sockets and files), or each reader aborts."""
    import io

    import pyarrow.csv as pcsv

    from pipelines.parsing import isolated

    pcsv.read_csv(io.BytesIO(b"a,b\n1,2\n"))
    isolated.stop_spawner()
    started = isolated.start_spawner()
    try:
        assert read_isolated(_with_parent, [1, 2]) == [(2, started.pid), (4, started.pid)]
    finally:
        isolated.stop_spawner()
