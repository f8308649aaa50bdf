"""every_source_row_accounted_for (pipelines/checks/lineage.py): rows read = landed + quarantined, and
every value the parser nulled is recorded in quarantine.rejected_values. Real ingestion of a real
file with bad values, then the record is broken on purpose."""

from __future__ import annotations

import functools
import shutil

import pytest
from dagster import AssetCheckSeverity, asset, materialize

from pipelines import tables
from pipelines.checks.lineage import every_source_row_accounted_for
from pipelines.ingestion.incoming import landing_incoming
from pipelines.ingestion.land import land_submissions
from pipelines.parsing.parse import parse_batch_joined
from pipelines.parsing.pseudonym import Pseudonymiser
from pipelines.parsing.regions import RegionIndex
from pipelines.partitions import MONTHLY
from pipelines.resources import WarehouseResource
from pipelines.settings import BUNDLED_REGION_MASTER
from tests.paths import FIXTURES

BAD_VALUES = FIXTURES / "sources" / "child_measurements" / "eppgbm_bad_values.csv"
NAME = "36.04.15.2001_2024-08.csv"


def _run(tmp_path, break_record: str | None):
    landing = tmp_path / "landing" / "child_measurements"
    landing.mkdir(parents=True)
    shutil.copy2(BAD_VALUES, landing / NAME)

    @asset(key=tables.key("raw.submissions"), partitions_def=MONTHLY)
    def submissions(warehouse: WarehouseResource):
        parse = functools.partial(parse_batch_joined, pseudonymiser=Pseudonymiser(b"k"),
                                  regions=RegionIndex.from_csv(BUNDLED_REGION_MASTER))
        with warehouse.connect() as con:
            land_submissions(con, landing_incoming(tmp_path / "landing"), parse, "run-1")
            if break_record:
                con.execute(break_record)

    warehouse = WarehouseResource(path=str(tmp_path / "w.duckdb"))
    result = materialize([submissions, every_source_row_accounted_for], resources={"warehouse": warehouse},
                         partition_key="2024-08", raise_on_error=False)
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation, {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}


def test_passes_when_every_row_and_nulled_value_is_accounted_for(tmp_path):
    evaluation, meta = _run(tmp_path, None)
    assert evaluation.passed and evaluation.severity == AssetCheckSeverity.ERROR
    assert (meta["source_rows"], meta["rows_landed"], meta["rows_quarantined"]) == (11, 10, 1)
    assert meta["values_nulled"] == meta["values_recorded"] == 8


@pytest.mark.parametrize("break_record", [
    # a nulled value whose record went missing
    "delete from quarantine.rejected_values where row_number = 2",
    # a quarantined row whose record count disagrees with what the loader counted
    "update raw.submissions set n_rows_rejected = 0",
])
def test_fails_when_a_nulled_value_or_a_row_is_not_accounted_for(tmp_path, break_record):
    evaluation, meta = _run(tmp_path, break_record)
    assert not evaluation.passed
    assert meta["unreconciled_submissions"] == 1 and NAME in meta["examples"]
