"""Landing-folder sensor: run keys from path plus content hash."""

import hashlib
import json
import os

import pytest
from dagster import SkipReason, build_sensor_context

from pipelines.resources import LandingFolderResource
from pipelines.sensors import landing_folder_sensor


@pytest.fixture(autouse=True)
def _no_warehouse(isolated_env):
    """No warehouse: a sensor without a cursor starts from nothing (tests/test_quiet_nights.py
    tests the start from a warehouse's fingerprints)."""


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


def test_identical_content_gives_the_same_run_key(tmp_path):
    keys = []
    for name in ("a", "b"):
        f = tmp_path / name / "child_measurements" / "36.01.01.2001_2024-08.csv"
        f.parent.mkdir(parents=True)
        f.write_bytes(b"No;NIK\n1;x\n")
        os.utime(f, ns=(10**18, 10**18 + len(keys)))  # another mtime: content decides
        keys.append(_evaluate(tmp_path / name).run_requests[0].run_key)
    assert keys[0] == keys[1]


def test_a_cursor_from_before_full_hashes_starts_no_run_and_is_upgraded(tmp_path):
    """Cursors once held ``[size, mtime_ns, sha256[:16]]``: such an entry is read again once (its
    full hash beginning with the old prefix means unchanged), and a change is still a change."""
    stream = tmp_path / "child_measurements"
    stream.mkdir()
    same, changed = stream / "36.01.01.2001_2024-08.csv", stream / "36.01.01.2002_2024-07.csv"
    same.write_bytes(b"No;NIK\n1;x\n")
    changed.write_bytes(b"No;NIK\n2;x\n")
    old = {f"child_measurements/{f.name}": [f.stat().st_size, f.stat().st_mtime_ns,
                                            hashlib.sha256(f.read_bytes()).hexdigest()[:16]] for f in (same, changed)}
    quiet = _evaluate(tmp_path, json.dumps(old))
    assert not quiet.run_requests
    upgraded = json.loads(quiet.cursor)
    assert all(len(fp[2]) == 64 for fp in upgraded.values())

    changed.write_bytes(b"No;NIK\n2;y\n")
    run = _evaluate(tmp_path, json.dumps(old))
    (request,) = run.run_requests
    assert request.tags["arrivals"] == "1"
    assert request.tags["dagster/asset_partition_range_start"] == "2024-07"
