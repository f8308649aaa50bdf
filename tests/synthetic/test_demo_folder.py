"""The demo's own folder (issue 18): it clears only a folder it created, only what it created there,
and only while no run writes its warehouse."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from pipelines.resources import WarehouseBusyError
from pipelines.synthetic.demo import CREATED, MARKER, DemoFolderError, demo_paths, prepare_demo_folder


def test_a_folder_that_is_not_the_demos_is_refused_untouched(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "warehouse").mkdir()
    (tmp_path / "warehouse" / "banten.duckdb").write_bytes(b"real data")
    with pytest.raises(DemoFolderError, match="holds no .konvergensi-demo marker"):
        prepare_demo_folder(tmp_path)
    assert (tmp_path / "warehouse" / "banten.duckdb").read_bytes() == b"real data"
    assert not (tmp_path / MARKER).exists()
    file = tmp_path / "notes.txt"
    with pytest.raises(DemoFolderError, match="not a folder"):
        prepare_demo_folder(file)


def test_a_new_or_empty_folder_becomes_a_demo_folder(tmp_path):
    prepare_demo_folder(tmp_path / "new" / "demo")
    assert (tmp_path / "new" / "demo" / MARKER).is_file()
    (tmp_path / "empty").mkdir()
    prepare_demo_folder(tmp_path / "empty")
    assert (tmp_path / "empty" / MARKER).is_file()


def test_a_rerun_clears_what_the_demo_created_and_nothing_else(tmp_path):
    prepare_demo_folder(tmp_path)
    for name in CREATED:
        (tmp_path / name / "sub").mkdir(parents=True)
        (tmp_path / name / "sub" / "f").write_text("x")
    warehouse = demo_paths(tmp_path)["warehouse"]
    (warehouse.parent / "work").mkdir(exist_ok=True)
    (warehouse.parent / "work" / warehouse.name).write_text("old run")
    (tmp_path / "my_notes.md").write_text("keep me")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    outside.write_text("outside")
    (tmp_path / "landing" / "link").symlink_to(outside)

    prepare_demo_folder(tmp_path)
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert left == [MARKER, "my_notes.md", "warehouse", "warehouse/work", "warehouse/work/.run.lock"]
    assert outside.read_text() == "outside"  # a link is removed, never followed


def test_a_run_writing_the_demo_warehouse_stops_the_clearing(tmp_path):
    prepare_demo_folder(tmp_path)
    (tmp_path / "generated").mkdir()
    lock = demo_paths(tmp_path)["warehouse"].parent / "work" / ".run.lock"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from pipelines.resources import acquire_run_lock
        handle = acquire_run_lock(__import__("pathlib").Path({str(lock)!r}))
        print("held", flush=True)
        time.sleep(30)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(WarehouseBusyError):
            prepare_demo_folder(tmp_path)
        assert (tmp_path / "generated").is_dir()
    finally:
        holder.kill()
        holder.wait()
