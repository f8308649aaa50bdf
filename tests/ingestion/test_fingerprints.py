"""Landing-file fingerprints: read and hash a file only when its size or mtime changed; one rule
for the sensor's cursor and ingestion's table (pipelines.ingestion.fingerprints)."""

from __future__ import annotations

import datetime as dt
import os

import duckdb
import pytest

from pipelines import tables
from pipelines.ingestion import fingerprints
from pipelines.ingestion.fingerprints import FileStat, Fingerprint, fingerprint, same_content
from pipelines.ingestion.identity import sha256_hex
from pipelines.sensors import landing_fingerprints


def _stat(root, rel) -> FileStat:
    st = (root / rel).stat()
    return FileStat(rel, st.st_size, st.st_mtime_ns)


class Reads:
    """A file's read_bytes that counts its calls."""

    def __init__(self, path):
        self.path, self.n = path, 0

    def __call__(self) -> bytes:
        self.n += 1
        return self.path.read_bytes()


@pytest.fixture
def landing(tmp_path):
    f = tmp_path / "child_measurements" / "36.01.01.2001_2024-08.csv"
    f.parent.mkdir()
    f.write_bytes(b"No;NIK\n1;x\n")
    return tmp_path, "child_measurements/36.01.01.2001_2024-08.csv"


def test_a_new_file_is_read_once_and_hashed_in_full(landing):
    root, rel = landing
    reads = Reads(root / rel)
    fp, content = fingerprint(_stat(root, rel), reads, {})
    assert reads.n == 1 and content == (root / rel).read_bytes()
    assert fp == Fingerprint(rel, len(content), (root / rel).stat().st_mtime_ns, sha256_hex(content))
    assert len(fp.sha256) == 64


def test_an_unchanged_file_is_not_read(landing):
    root, rel = landing
    first, _ = fingerprint(_stat(root, rel), Reads(root / rel), {})
    reads = Reads(root / rel)
    again, content = fingerprint(_stat(root, rel), reads, {rel: first[1:]})
    assert reads.n == 0 and content is None and again == first


def test_a_new_mtime_is_read_and_hashed_again(landing):
    root, rel = landing
    first, _ = fingerprint(_stat(root, rel), Reads(root / rel), {})
    st = (root / rel).stat()
    os.utime(root / rel, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    reads = Reads(root / rel)
    again, content = fingerprint(_stat(root, rel), reads, {rel: first[1:]})
    assert reads.n == 1 and content is not None
    assert again.mtime_ns == first.mtime_ns + 10**9 and again.sha256 == first.sha256  # same bytes


def test_the_sensor_does_not_open_a_file_whose_size_and_mtime_stayed(landing):
    """Proof by swapping the bytes behind the sensor's back: same size, same mtime, other
    content. A sensor that read the file would see the new hash; it keeps the cached one."""
    root, rel = landing
    first, _ = landing_fingerprints(root, {})
    st = (root / rel).stat()
    (root / rel).write_bytes(b"No;NIK\n1;y\n")
    os.utime(root / rel, ns=(st.st_atime_ns, st.st_mtime_ns))
    again, _ = landing_fingerprints(root, first)
    assert again == first
    assert landing_fingerprints(root, {})[0][rel][2] == sha256_hex(b"No;NIK\n1;y\n")


def test_a_cached_16_character_hash_is_read_again_and_matches_its_full_hash(landing):
    root, rel = landing
    full = sha256_hex((root / rel).read_bytes())
    stat = _stat(root, rel)
    reads = Reads(root / rel)
    fp, _ = fingerprint(stat, reads, {rel: [stat.size, stat.mtime_ns, full[:16]]})
    assert reads.n == 1 and fp.sha256 == full
    assert same_content(full[:16], full) and same_content(full, full)
    assert not same_content(sha256_hex(b"other")[:16], full) and not same_content("", full)


def test_ingestion_remembers_fingerprints_in_its_table():
    con = duckdb.connect()
    tables.ensure_all(con, tables.INGESTION_TABLES)
    when = dt.datetime(2024, 9, 1)
    fingerprints.remember(con, [Fingerprint("a/x.csv", 1, 10, "h1"), Fingerprint("a/y.csv", 2, 20, "h2")], when)
    fingerprints.remember(con, [Fingerprint("a/x.csv", 3, 30, "h3"), Fingerprint("a/x.csv", 4, 40, "h4")], when)
    fingerprints.remember(con, [], when)
    assert fingerprints.load(con) == {"a/x.csv": (4, 40, "h4"), "a/y.csv": (2, 20, "h2")}
