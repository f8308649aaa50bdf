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
    real = readers.read_xlsx

    def reader(content: bytes, layout):
        if content == poison:
            os.kill(os.getpid(), signal.SIGABRT)  # what calamine does when an allocation fails
        return real(content, layout)

    monkeypatch.setattr(readers, "read_xlsx", reader)
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
