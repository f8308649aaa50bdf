"""The region index the parser tests resolve names with: the bundled official master (or the one
in ../shared when the package data is absent)."""

from __future__ import annotations

import pytest

from pipelines.parsing.regions import RegionIndex
from tests.paths import ROOT_DIR, SHARED

MASTERS = (ROOT_DIR / "pipelines" / "data" / "banten_regions.csv", SHARED / "reference" / "banten_regions.csv")


@pytest.fixture(scope="module")
def regions() -> RegionIndex:
    for path in MASTERS:
        if path.is_file():
            return RegionIndex.from_csv(path)
    pytest.skip("no region master CSV available")
