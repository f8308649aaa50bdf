"""Landing files announced to the kernel before they are read (pipelines/ingestion/land.read_ahead)."""

import os

from pipelines.ingestion.fingerprints import FileStat
from pipelines.ingestion.incoming import Incoming, advise_will_read, landing_incoming
from pipelines.ingestion.land import read_ahead

MB = 1024 * 1024


def _files(sizes: list[int], announced: list[str], handed: list[str]) -> list[Incoming]:
    def make(i: int, size: int) -> Incoming:
        name = f"f{i}"
        return Incoming("households", name, "landing", None, lambda: b"", stat=FileStat(name, size, 0),
                        advise=lambda: announced.append(f"{name} after {len(handed)}"))
    return [make(i, s) for i, s in enumerate(sizes)]


def test_order_is_kept_and_files_are_announced_a_window_ahead():
    announced: list[str] = []
    handed: list[str] = []
    files = _files([10 * MB] * 10, announced, handed)
    for inc in read_ahead(files, lambda inc: True, window_bytes=30 * MB):
        handed.append(inc.file_name)
    assert handed == [f"f{i}" for i in range(10)]
    # three files (30 MB) announced before the first is handed out, then one more per file handed
    assert announced[:3] == ["f0 after 0", "f1 after 0", "f2 after 0"]
    assert announced[3:] == [f"f{i} after {i - 2}" for i in range(3, 10)]


def test_files_that_will_not_be_read_are_never_announced_nor_listed_far_ahead():
    announced: list[str] = []
    handed: list[str] = []
    files = _files([10 * MB] * 1000, announced, handed)
    pulled = []

    def listing():
        for inc in files:
            pulled.append(inc.file_name)
            yield inc

    for inc in read_ahead(listing(), lambda inc: False, window_bytes=30 * MB):
        handed.append(inc.file_name)
        assert len(pulled) <= len(handed) + 2  # a quiet night does not list ahead
    assert handed == [f"f{i}" for i in range(1000)]
    assert announced == []


def test_a_landing_listing_announces_only_files_it_may_read(tmp_path):
    folder = tmp_path / "households"
    folder.mkdir()
    (folder / "p3ke_3601012001_2024-08.csv").write_bytes(b"x" * 100)
    os.mkfifo(folder / "p3ke_3601012002_2024-08.csv")  # never opened for reading: refused unread
    listed = {inc.file_name: inc for inc in landing_incoming(tmp_path, ["households"])}
    assert listed["p3ke_3601012001_2024-08.csv"].advise is not None
    assert listed["p3ke_3601012002_2024-08.csv"].advise is None
    listed["p3ke_3601012001_2024-08.csv"].advise()  # opens, advises, closes: nothing to see, nothing raised
    advise_will_read(str(tmp_path / "gone.csv"))  # a file gone since the listing: ignored
