"""Landing-folder sensor: run keys from path plus content hash."""

import os

from dagster import SkipReason, build_sensor_context

from pipelines.resources import LandingFolderResource
from pipelines.sensors import landing_folder_sensor


def _evaluate(root, cursor=None):
    ctx = build_sensor_context(cursor=cursor, resources={"landing": LandingFolderResource(path=str(root))})
    return landing_folder_sensor(ctx)


def test_new_changed_and_redelivered_files(tmp_path):
    stream = tmp_path / "child_measurements"
    stream.mkdir()
    f = stream / "36.01.01.2001_2024-08.csv"
    f.write_bytes(b"No;NIK\n1;x\n")
    first = _evaluate(tmp_path)
    assert len(first.run_requests) == 1
    key1 = first.run_requests[0].run_key

    # nothing new: skip, cursor kept
    second = _evaluate(tmp_path, first.cursor)
    assert not second.run_requests

    # the same bytes delivered again (new mtime): still nothing to do
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))
    third = _evaluate(tmp_path, second.cursor)
    assert not third.run_requests

    # a corrected file (new content) is a new run with a new key
    f.write_bytes(b"No;NIK\n1;y\n")
    fourth = _evaluate(tmp_path, third.cursor)
    assert len(fourth.run_requests) == 1 and fourth.run_requests[0].run_key != key1


def test_unconfigured_landing_folder_skips():
    ctx = build_sensor_context(resources={"landing": LandingFolderResource(path="")})
    assert isinstance(landing_folder_sensor(ctx), SkipReason)
