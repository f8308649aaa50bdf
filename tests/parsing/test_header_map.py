"""Header lines are mapped once per distinct line and layout (pipelines.parsing.cells.map_headers):
every file still gets its own warnings and its own error, and cells that are not text are never
served from another header's entry."""

from __future__ import annotations

import dataclasses

import pytest

from pipelines.parsing import cells
from pipelines.parsing.cells import FileError, map_headers
from pipelines.parsing.layouts import CHILD_MEASUREMENTS, HOUSEHOLDS


def _headers(*extra: object) -> list[object]:
    return [*CHILD_MEASUREMENTS.headers, *extra]


def test_a_header_line_seen_again_gives_each_file_the_same_columns_and_its_own_warnings():
    headers = _headers("Kolom Bebas", "  nik ")  # an unknown column and a duplicate of "NIK"
    first, second = [], []
    mapped = [map_headers(headers, CHILD_MEASUREMENTS, w) for w in (first, second)]
    assert mapped[0] == mapped[1]
    assert set(mapped[0][1]) <= set(CHILD_MEASUREMENTS.canonical) and "nik" in mapped[0][1]
    assert first == second and first is not second
    assert sorted(w.code for w in first) == ["column_dropped", "column_duplicate"]
    mapped[0][0].append(-1)  # the caller's lists are its own
    assert map_headers(headers, CHILD_MEASUREMENTS, [])[0] == mapped[1][0]


def test_a_header_line_without_a_required_column_is_refused_every_time():
    headers = [h for h in CHILD_MEASUREMENTS.headers if h != "Tanggal Pengukuran"]
    for _ in range(2):
        with pytest.raises(FileError) as err:
            map_headers(headers, CHILD_MEASUREMENTS, [])
        assert err.value.code == "missing_columns" and "Tanggal Pengukuran" in err.value.message


def test_headers_that_are_not_text_are_mapped_each_time_not_cached():
    cells._HEADER_MAPS.clear()
    numbers = [*CHILD_MEASUREMENTS.headers[:-1], 1]
    truth = [*CHILD_MEASUREMENTS.headers[:-1], True]
    w1, w2 = [], []
    map_headers(numbers, CHILD_MEASUREMENTS, w1)
    map_headers(truth, CHILD_MEASUREMENTS, w2)
    assert "1" in w1[0].detail and "True" in w2[0].detail  # 1 == True, yet each named as written
    assert not cells._HEADER_MAPS


def test_an_entry_is_for_its_layout_object_only():
    headers = list(HOUSEHOLDS.headers)
    plain, fewer = [], []
    map_headers(headers, HOUSEHOLDS, plain)
    shorter = dataclasses.replace(HOUSEHOLDS, columns=HOUSEHOLDS.columns[:-1])  # its last header unknown
    positions, _ = map_headers(headers, shorter, fewer)
    assert not plain and [w.code for w in fewer] == ["column_dropped"]
    assert len(positions) == len(headers) - 1
    assert map_headers(headers, HOUSEHOLDS, []) == (list(range(len(headers))), list(HOUSEHOLDS.canonical))
