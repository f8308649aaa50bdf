"""Files as people name them (issue 16): e-PPGBM exports named by a puskesmas, a kecamatan or a
regency land under the submitter and period their rows tell; a corrected re-export under another
name is the next version; dates are read as the writer meant them. Real fixtures in the e-PPGBM
layout, the real parser and region master, a real DuckDB file, a real portal on loopback."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import duckdb
import pytest

from pipelines.ingestion.identity import submission_id
from pipelines.ingestion.incoming import landing_incoming, portal_incoming
from pipelines.ingestion.land import land_submissions
from pipelines.ingestion.portal import PortalClient
from pipelines.parsing.parse import parse_batch_joined
from pipelines.parsing.pseudonym import Pseudonymiser
from pipelines.parsing.regions import RegionIndex
from pipelines.settings import BUNDLED_REGION_MASTER, SQL_DIR
from pipelines.synthetic.portal_server import make_server
from tests.paths import FIXTURES

SOURCES = FIXTURES / "sources"
DISTRICT = "Data Pengukuran Balita Agustus 2024.csv"
REGENCY = "e-PPGBM Kab Pandeglang Agustus 2024.csv"
REEXPORT = "laporan pandeglang agustus (perbaikan).csv"
DAY_FIRST = "Pengukuran Posyandu Mawar 05-08-2024.csv"
NO_EVIDENCE = "36.04.15_2024-08_posyandu_melati.csv"
NO_REGION = "Data Balita Posyandu.csv"
P3KE = "P3KE Desa Cikande.csv"
RECEIVED = dt.datetime(2024, 9, 3, 2, 0, tzinfo=dt.UTC)  # after August's measurements
TOKEN = "unnamed-files-test-token"


@pytest.fixture(scope="module")
def parse():
    regions = RegionIndex.from_csv(BUNDLED_REGION_MASTER)
    pseudonymiser = Pseudonymiser(b"unnamed-files-test-key")

    def _parse(stream, files, hints=None):
        return parse_batch_joined(stream, files, hints, pseudonymiser=pseudonymiser, regions=regions)

    return _parse


def _drop(folder: Path, stream: str, name: str, as_name: str | None = None,
          received: dt.datetime = RECEIVED) -> Path:
    """Copy a fixture into a landing (or portal) folder, received at ``received``."""
    target = folder / stream / (as_name or name)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(SOURCES / stream / name, target)
    os.utime(target, (received.timestamp(), received.timestamp()))
    return target


def _land(con, root: Path, parse, months=None):
    return land_submissions(con, landing_incoming(root), parse, "run", months=months)


def _submissions(con) -> list[tuple]:
    return con.execute("select file_name, status, submitter_level, submitter_code, period, version "
                       "from raw.submissions order by file_name").fetchall()


def _reasons(con, file_name: str) -> dict[int, str]:
    return dict(con.execute("select row_number, reason_code from quarantine.rejected_rows where file_name = ? "
                            "order by row_number", [file_name]).fetchall())


def test_a_person_named_kecamatan_file_lands_under_its_district_and_month(tmp_path, parse):
    _drop(tmp_path, "child_measurements", DISTRICT)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    report = _land(con, tmp_path, parse)
    assert (report.landed, report.rejected_files) == (1, 0)
    assert _submissions(con) == [(DISTRICT, "accepted", "district", "36.04.15", "2024-08", 1)]
    sha = con.execute("select content_sha256 from raw.submissions").fetchone()[0]
    assert con.execute("select submission_id from raw.submissions").fetchone()[0] == submission_id(
        "child_measurements", "36.04.15", "2024-08", sha)
    villages = {c for (c,) in con.execute("select distinct village_code from raw.child_measurements").fetchall()}
    assert villages == {"36.04.15.2001", "36.04.15.2004", "36.04.15.2005", "36.04.15.2006"}
    assert _reasons(con, DISTRICT) == {12: "measured_outside_period"}  # measured 30 July in an August file
    # the same bytes dropped again under another name land nothing, not even a parse
    _drop(tmp_path, "child_measurements", DISTRICT, "salinan data agustus.csv")
    again = _land(con, tmp_path, parse)
    assert (again.landed, again.rejected_files, again.skipped_known) == (0, 0, 2)  # the file and its copy


def test_measured_after_the_file_was_received(tmp_path, parse):
    # received on 6 August 2024 at 20:00 UTC, 7 August 03:00 in Banten: rows measured 8-10 August are after it
    _drop(tmp_path, "child_measurements", DISTRICT, received=dt.datetime(2024, 8, 6, 20, 0, tzinfo=dt.UTC))
    con = duckdb.connect()
    _land(con, tmp_path, parse)
    reasons = _reasons(con, DISTRICT)
    assert reasons == {9: "measured_after_received", 10: "measured_after_received", 11: "measured_after_received",
                       12: "measured_outside_period"}
    detail = con.execute("select detail from quarantine.rejected_rows where row_number = 9").fetchone()[0]
    assert detail == "measured after the file was received on 2024-08-07 (WIB)"


def test_a_regency_wide_export_and_its_corrected_re_export_under_another_name(tmp_path, parse):
    """The re-export is version 2 of the same submission; staging holds each child once."""
    from pipelines.sql_engine.build import run_model
    from pipelines.sql_engine.models import discover_models

    _drop(tmp_path, "child_measurements", REGENCY)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    _land(con, tmp_path, parse)
    _drop(tmp_path, "child_measurements", REEXPORT, received=RECEIVED + dt.timedelta(days=2))
    _land(con, tmp_path, parse)
    assert _submissions(con) == [(REGENCY, "accepted", "regency", "36.01", "2024-08", 1),
                                 (REEXPORT, "accepted", "regency", "36.01", "2024-08", 2)]
    models = {m.name: m for m in discover_models(SQL_DIR)}
    con.execute("create schema if not exists staging")
    for name in ("stg_submissions", "stg_child_measurements"):
        run_model(con, models[name])
    assert con.execute("select file_name from staging.stg_submissions where is_latest_version").fetchall() == [
        (REEXPORT,)]
    staged = con.execute("select count(*), count(distinct child_id), count(distinct village_code), "
                         "max(weight_kg) from staging.stg_child_measurements").fetchone()
    assert staged == (5, 5, 5, 11.4)  # five children of five villages in three districts, the corrected weight


def test_the_order_of_a_day_first_file_comes_from_its_birth_dates(tmp_path, parse):
    _drop(tmp_path, "child_measurements", DAY_FIRST)
    _drop(tmp_path, "child_measurements", NO_EVIDENCE)
    con = duckdb.connect()
    _land(con, tmp_path, parse)
    rows = con.execute("select s.file_name, list(m.measured_on order by m.row_number), "
                       "list(m.birth_date order by m.row_number) from raw.child_measurements m "
                       "join raw.submissions s using (submission_id) group by 1 order by 1").fetchall()
    assert rows == [
        # named: the period 2024-08 decides (no part above 12 anywhere: 05/08 is 5 August)
        (NO_EVIDENCE, [dt.date(2024, 8, 5), dt.date(2024, 8, 6), dt.date(2024, 8, 7)],
         [dt.date(2022, 2, 1), dt.date(2022, 3, 2), dt.date(2022, 4, 3)]),
        # unnamed: birth days 13-19 say day first, so 05/08/2024 is 5 August, and the period is August
        (DAY_FIRST, [dt.date(2024, 8, 5), dt.date(2024, 8, 6), dt.date(2024, 8, 7), dt.date(2024, 8, 8)],
         [dt.date(2022, 1, 13), dt.date(2022, 2, 15), dt.date(2022, 3, 17), dt.date(2022, 4, 19)]),
    ]
    assert _submissions(con) == [(NO_EVIDENCE, "accepted", "district", "36.04.15", "2024-08", 1),
                                 (DAY_FIRST, "accepted", "village", "36.04.15.2001", "2024-08", 1)]


def test_files_that_tell_no_submitter_or_period_are_refused_with_what_to_do(tmp_path, parse):
    _drop(tmp_path, "child_measurements", NO_REGION)
    _drop(tmp_path, "households", P3KE)
    con = duckdb.connect()
    report = _land(con, tmp_path, parse)
    assert (report.landed, report.rejected_files) == (0, 2)
    refused = dict(con.execute("select file_name, reason_code || ': ' || detail from quarantine.rejected_files"
                               ).fetchall())
    assert refused[NO_REGION].startswith("submitter_unknown: submitter_unknown: no row's region could be read from "
                                         "Kab/Kota, Kec, Desa/Kel")
    assert "rename the file <region code>_<month>.csv" in refused[NO_REGION]
    assert refused[P3KE].startswith("period_unknown: period_unknown: the file has no year column")
    assert "rename the file <region code>_<year>.csv (e.g. 36.04.15.2001_2024.csv)" in refused[P3KE]
    assert con.execute("select count(*) from quarantine.rejected_rows").fetchone() == (0,)
    # renamed as the detail says, the register lands
    (tmp_path / "households" / P3KE).rename(tmp_path / "households" / "36.04.15.2001_2024.csv")
    assert _land(con, tmp_path, parse).landed == 1


def test_a_partitioned_run_lands_an_unnamed_file_only_in_its_month(tmp_path, parse):
    _drop(tmp_path, "child_measurements", DISTRICT)
    con = duckdb.connect()
    july = _land(con, tmp_path, parse, months={"2024-07"})
    assert july.landed == 0 and july.deferred == [f"child_measurements/{DISTRICT} (36.04.15, 2024-08)"]
    assert con.execute("select count(*) from raw.landing_fingerprints").fetchone() == (0,)  # read again next run
    august = _land(con, tmp_path, parse, months={"2024-08"})
    assert august.landed == 1 and august.deferred == []


def test_a_badly_named_portal_upload_lands_under_the_submitter_and_period_of_its_form(tmp_path, parse):
    portal_dir = tmp_path / "portal"
    # the form says Kec. Cikande, August: the file lands under them, not under what its rows would tell
    path = _drop(portal_dir, "child_measurements", DAY_FIRST, "hasil timbang.csv")
    form = path.with_name(path.name + ".meta.json")
    form.write_text(json.dumps({"submitter_code": "36.04.15", "period": "2024-08"}))
    os.utime(form, (RECEIVED.timestamp(), RECEIVED.timestamp()))
    server = make_server(portal_dir, host="127.0.0.1", port=0, token=TOKEN).start_in_thread()
    try:
        with PortalClient(server.base_url, TOKEN) as client:
            (item,) = client.list_submissions()
            assert (item["submitter_level"], item["submitter_code"], item["period"]) == (
                "district", "36.04.15", "2024-08")
            con = duckdb.connect()
            report = land_submissions(con, portal_incoming(client), parse, "run")
    finally:
        server.stop()
    assert report.landed == 1
    row = con.execute("select submission_id, transport, submitter_level, submitter_code, period, received_at "
                      "from raw.submissions").fetchone()
    assert row == (item["submission_id"], "portal", "district", "36.04.15", "2024-08", RECEIVED.replace(tzinfo=None))
    assert con.execute("select count(*) from raw.child_measurements").fetchone() == (4,)
