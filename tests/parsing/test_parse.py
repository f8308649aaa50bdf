"""parse_submission end to end on the fixtures: typed rows, row-level rejects and value-level
rejects (the value nulled, the row kept), pseudonyms and the guarantee that no personal value
leaves the parser (pipelines.parsing.parse)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pandas as pd
import pytest

from pipelines.parsing.file_identity import FileHints
from pipelines.parsing.layouts import LAYOUTS, STREAMS
from pipelines.parsing.parse import ParseResult, parse_submission
from pipelines.parsing.parse_context import REJECT_COLUMNS, REJECT_REASONS
from pipelines.parsing.pseudonym import Pseudonymiser
from pipelines.parsing.regions import RegionIndex
from tests.hints import name_hints
from tests.paths import FIXTURES

FIX = FIXTURES / "sources"
KEY = b"parse-test-key-not-secret"
MAIN = "child_measurements/eppgbm_bom_semicolon.csv"
PERSONAL_HEADERS = ("NIK", "Nama", "Nama Ortu", "Alamat", "Kepala Keluarga", "Nama Petugas", "Penanggung Jawab",
                    "Nama KPM", "No HP KPM", "ID Keluarga")


# What the fixtures' file names would have to tell: a P3KE register names no year, and the OPD
# fixture holds several OPDs' lines (their rows alone identify neither, see test_file_identity.py).
FIXTURE_HINTS = {"households/p3ke_aliases.csv": FileHints(period="2024"),
                 "opd_programmes/opd.csv": FileHints("BAPPEDA", "2024-Q3")}


def parse(stream_path: str, regions, key: bytes = KEY, name: str | None = None) -> ParseResult:
    path = FIX / stream_path
    return parse_submission(path.parent.name, path.read_bytes(), name or path.name, FIXTURE_HINTS.get(stream_path),
                            pseudonymiser=Pseudonymiser(key), regions=regions)


def reasons(result: ParseResult) -> dict[int, set[tuple[str, str, str]]]:
    """Row number -> {(column, reason code, level)} of every reject."""
    out: dict[int, set] = {}
    for row, column, reason, level in result.rejects[["row_number", "column", "reason_code", "level"]].itertuples(
            index=False):
        out.setdefault(int(row), set()).add((column, reason, level))
    return out


def test_every_reject_reason_on_the_row_it_belongs_to(regions):
    result = parse(MAIN, regions)
    assert result.file_error is None
    assert reasons(result) == {
        11: {("birth_date", "invalid_date", "row")},
        12: {("birth_date", "birth_after_measurement", "row")},
        13: {("weight_kg", "invalid_number", "value")},
        14: {("weight_kg", "weight_out_of_range", "value")},
        15: {("lenhei_cm", "lenhei_out_of_range", "value")},
        16: {("sex", "invalid_sex", "row")},
        17: {("regency_name", "unknown_regency", "row")},
        18: {("district_name", "unknown_district", "row")},
        19: {("village_name", "unknown_village", "row")},
        22: {("regency_name", "unknown_regency", "row")},
    }  # row 20 has no name but a usable NIK: the child is identified, the row kept
    assert "2/31/2023" in result.rejects.set_index("row_number").loc[11, "detail"]


def test_a_bad_value_loses_only_itself(regions):
    result = parse(MAIN, regions)
    rows = result.rows.set_index("row_number")
    assert pd.isna(rows.loc[13, "weight_kg"]) and rows.loc[13, "lenhei_cm"] == 80.0
    assert pd.isna(rows.loc[14, "weight_kg"]) and rows.loc[14, "lenhei_cm"] == 80.0
    assert rows.loc[15, "weight_kg"] == 10.0 and pd.isna(rows.loc[15, "lenhei_cm"])
    nulled = result.nulled.set_index("row_number")
    assert nulled.loc[[13, 14, 15], "original_value"].tolist() == ["abc", "75", "200"]
    assert nulled["payload"].isna().all()  # the row itself landed: no payload kept aside
    assert result.rejects.loc[result.row_rejected, "original_value"].isna().all()


def test_rows_reconcile_and_duplicates_are_kept(regions):
    result = parse(MAIN, regions)
    assert result.n_source_rows == 21
    assert (len(result.rows), result.n_rejected_rows, len(result.nulled)) == (14, 7, 3)
    assert len(result.rows) + result.n_rejected_rows == result.n_source_rows
    rows = result.rows.set_index("row_number")
    # Rows 2 and 9 are the same child on the same day; both kept, row_number says which is last.
    assert rows.loc[2, "child_id"] == rows.loc[9, "child_id"]
    assert (rows.loc[2, "weight_kg"], rows.loc[9, "weight_kg"]) == (10.5, 10.6)


def test_typed_values(regions):
    rows = parse(MAIN, regions).rows.set_index("row_number")
    first = rows.loc[2]
    assert first["birth_date"] == dt.date(2023, 1, 15) and first["measured_on"] == dt.date(2024, 8, 1)
    assert (first["sex"], first["measure"], first["weight_kg"], first["lenhei_cm"]) == (1, "l", 10.5, 80.5)
    assert (first["haz_export"], first["waz_export"], first["whz_export"]) == (-1.2, -0.5, 0.3)
    assert rows.loc[3, "sex"] == 2 and rows.loc[3, "measure"] == "h"
    zeros = rows.loc[21]
    assert pd.isna(zeros["birth_weight_kg"]) and pd.isna(zeros["birth_length_cm"]) and pd.isna(zeros["muac_cm"])
    assert pd.isna(zeros["haz_export"]) and pd.isna(zeros["whz_export"])
    assert not rows.loc[10, "nik_valid"] and rows.loc[2, "nik_valid"]
    assert str(rows["birth_date"].dtype).startswith("date32")


def test_region_codes_in_rows(regions):
    codes = parse(MAIN, regions).rows.set_index("row_number")["village_code"]
    assert codes.loc[[2, 3, 4, 5]].tolist() == ["36.04.15.2001", "36.73.01.1006", "36.03.17.2002", "36.71.01.1001"]
    assert codes.loc[[6, 7, 8]].tolist() == ["36.01.06.2002", "36.01.26.2007", "36.01.01.2001"]


def test_same_children_same_ids_across_formats_and_files(regions):
    by_nik_row = {}
    for path in (MAIN, "child_measurements/eppgbm_list.json", "child_measurements/eppgbm_rows.json",
                 "child_measurements/eppgbm_serial_dates.xlsx"):
        result = parse(path, regions)
        assert result.file_error is None, (path, result.file_error)
        by_nik_row[path] = set(result.rows["child_id"])
    first_three = set(parse(MAIN, regions).rows.set_index("row_number").loc[[2, 3, 4], "child_id"])
    assert by_nik_row["child_measurements/eppgbm_list.json"] == first_three
    assert by_nik_row["child_measurements/eppgbm_rows.json"] == first_three
    # the workbook's first child was measured in September, outside its August rows' month
    second_third = set(parse(MAIN, regions).rows.set_index("row_number").loc[[3, 4], "child_id"])
    assert second_third < by_nik_row["child_measurements/eppgbm_serial_dates.xlsx"]
    other_key = parse(MAIN, regions, key=b"a-different-key").rows["child_id"]
    assert not set(other_key) & set(parse(MAIN, regions).rows["child_id"])


def test_xlsx_serial_and_datetime_dates(regions):
    result = parse("child_measurements/eppgbm_serial_dates.xlsx", regions)
    rows = result.rows
    assert rows["row_number"].tolist() == [4, 5, 6]
    assert rows["birth_date"].iloc[0] == dt.date(2022, 2, 1)  # a serial number
    assert rows["measured_on"].iloc[0] == dt.date(2024, 8, 2)  # a datetime cell
    # row 3: birth serial 45505 (2024-08-01), measured 2024-09-02 while the file's rows tell August
    assert reasons(result) == {3: {("measured_on", "measured_outside_period", "row")}}
    assert result.identity.period == "2024-08"


def test_cp1252_file_with_dmy_dates(regions):
    result = parse("child_measurements/eppgbm_cp1252_comma.csv", regions)
    assert result.rows["measured_on"].tolist() == [dt.date(2024, 8, 13), dt.date(2024, 8, 14)]
    assert result.rows["birth_date"].tolist() == [dt.date(2023, 1, 15), dt.date(2022, 2, 1)]
    assert result.rows["weight_kg"].tolist() == [10.5, 11.2]
    assert [(w.code, w.detail, w.n_rows) for w in result.warnings] == [
        ("encoding_fallback", "decoded as cp1252", None),
        ("date_order_guessed", "slash dates read as dmy: 3 dates have a day above 12 first", 2)]


@pytest.mark.parametrize(
    ("path", "name", "prefix"),
    [("child_measurements/garbage.csv", None, "undecodable: "),
     ("child_measurements/csv_inside.xlsx", None, "format_mismatch: "),
     ("child_measurements/missing_columns.csv", None, "missing_columns: NIK, Berat"),
     (MAIN, "36.04.15.2001_2024-08.xlsx", "format_mismatch: ")],
)
def test_file_errors_give_empty_typed_frames(regions, path, name, prefix):
    result = parse(path, regions, name=name)
    assert result.file_error.startswith(prefix)
    assert result.rows.empty and result.n_source_rows == 0
    assert {"row_number", "child_id", "village_code", "birth_date"} <= set(result.rows.columns)
    assert list(result.rejects.columns) == list(REJECT_COLUMNS)


def _personal_values() -> set[str]:
    values = set()
    for path in FIX.rglob("*.csv"):
        if path.name == "garbage.csv":
            continue
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", errors="replace")
        first = text.split("\n", 1)[0]
        delimiter = ";" if first.count(";") > first.count(",") else ","
        for record in csv.DictReader(io.StringIO(text), delimiter=delimiter):
            for header in PERSONAL_HEADERS:
                if (record.get(header) or "").strip():
                    values.add(record[header].strip())
    return values


def test_no_personal_value_anywhere_in_results(regions):
    personal = _personal_values()
    assert "3604015001230001" in personal and "ANAK CONTOH SATU" in personal and "PETUGAS CONTOH SATU" in personal
    for path in sorted(FIX.rglob("*.*")):
        if path.suffix == ".py":
            continue
        result = parse(str(path.relative_to(FIX)), regions)
        texts = [result.file_error or "", *map(str, result.warnings)]
        for frame in (result.rows, result.rejects):
            for column in frame.columns:
                texts.extend(str(v) for v in frame[column].tolist())
        blob = "\n".join(texts).upper()
        leaked = sorted(v for v in personal if v.upper() in blob)
        assert not leaked, (path.name, leaked)


def test_reject_payload_is_json_with_tokens_not_clear_values(regions):
    result = parse(MAIN, regions)
    payload = json.loads(result.rejects.set_index("row_number").loc[16, "payload"])
    assert payload["sex"] == "X" and payload["weight_kg"] == "10" and len(payload["child_id"]) == 32
    assert "nik" not in payload and "child_name" not in payload and "address" not in payload


def test_households_aliases_flags_decile_and_codes(regions):
    result = parse("households/p3ke_aliases.csv", regions)
    assert reasons(result) == {4: {("welfare_decile", "invalid_decile", "value")},
                               5: {("village_code", "unknown_region_code", "row")},
                               6: {("receives_bpnt", "invalid_value", "value")}}
    rows = result.rows.set_index("row_number")
    assert pd.isna(rows.loc[4, "welfare_decile"]) and rows.loc[4, "n_members"] == 3
    assert pd.isna(rows.loc[6, "receives_bpnt"]) and rows.loc[6, "welfare_decile"] == 2
    assert rows.loc[3, "village_code"] == "36.73.01.1006"  # written without dots
    assert rows.loc[2, ["receives_bpnt", "receives_pkh", "receives_bpum", "receives_bst", "receives_sembako"]
                    ].tolist() == [True, False, False, True, True]
    assert rows.loc[2, "welfare_decile"] == 1 and rows.loc[3, "n_members"] == 5
    assert rows["household_id"].str.len().eq(32).all() and rows["head_id"].str.len().eq(32).all()
    assert "nik" not in rows.columns and "head_name" not in rows.columns


def test_aksi_reports(regions):
    result = parse("aksi_reports/aksi.csv", regions)
    assert reasons(result) == {4: {("action_no", "invalid_action", "row")}, 5: {("status", "invalid_status", "row")},
                               6: {("regency_code", "unknown_region_code", "row")}}
    rows = result.rows
    assert rows["status"].tolist() == ["verified", "in_progress"]
    assert rows["score"].tolist() == [92.5, 75.0] and rows["n_evidence"].tolist() == [3, 1]
    assert rows["completed_on"].iloc[0] == dt.date(2024, 3, 15)


def test_lokus_survey_opd_scorecard(regions):
    lokus = parse("lokus_villages/lokus.csv", regions)
    assert reasons(lokus) == {3: {("village_code", "region_mismatch", "row")},
                              4: {("village_code", "unknown_region_code", "row")}}
    survey = parse("survey_figures/survey.csv", regions)
    assert survey.rows["stunting_ssgi_pct"].tolist()[0] == 29.4 and pd.isna(survey.rows["stunting_ssgi_pct"].iloc[1])
    assert survey.rows["population"].tolist() == [1_437_046, 759_929]
    assert reasons(survey) == {3: {("stunting_ssgi_pct", "out_of_range", "value")}}
    opd = parse("opd_programmes/opd.csv", regions)
    assert reasons(opd) == {3: {("village_codes", "unknown_region_code", "value")},
                            4: {("intervention_type", "invalid_value", "value")}}
    first = opd.rows.iloc[0]
    assert (first["budget_rp"], first["realisation_rp"], first["quarter"]) == (12_500_000, 10_000_000, 3)
    assert first["intervention_type"] == "specific" and first["village_codes"] == "36.01.01.2001,36.01.01.2002"
    assert pd.isna(opd.rows["village_codes"].iloc[1]) and pd.isna(opd.rows["intervention_type"].iloc[2])
    assert opd.nulled["original_value"].tolist() == ["36.01.01.2001;36.99.99.9999", "Campuran"]
    card = parse("village_scorecard/scorecard.csv", regions)
    assert reasons(card) == {3: {("quarter", "invalid_value", "row")}}
    assert card.rows["dana_desa_stunting_rp"].tolist() == [25_000_000] and card.rows["rembuk_held"].all()
    assert "kpm_phone" not in card.rows.columns and card.rows["kpm_id"].str.len().eq(32).all()


@pytest.mark.parametrize("stream", STREAMS)
def test_every_stream_has_a_typed_empty_result(regions, stream):
    result = parse_submission(stream, b"", "x.csv", pseudonymiser=Pseudonymiser(KEY), regions=regions)
    assert result.file_error.startswith("empty: ") and result.rows.empty
    assert result.rows.columns[0] == "row_number" and len(result.rows.columns) > 3
    assert not set(LAYOUTS[stream].pii) & set(result.rows.columns)


def test_numeric_nik_in_xlsx_is_not_trusted(regions, tmp_path):
    import openpyxl

    from pipelines.parsing.layouts import CHILD_MEASUREMENTS

    wb = openpyxl.Workbook()
    wb.active.append(list(CHILD_MEASUREMENTS.headers))
    row = ["1", 3604015001230000, "ANAK", "L", "1/15/2023", "", "", "", "BANTEN", "KAB SERANG", "CIKANDE", "",
           "CIKANDE", "", "", "", "", "", "8/1/2024", 10.5, 80.5, "Terlentang"]
    wb.active.append(row + [""] * (len(CHILD_MEASUREMENTS.headers) - len(row)))
    buf = io.BytesIO()
    wb.save(buf)
    result = parse_submission("child_measurements", buf.getvalue(), "x.xlsx", pseudonymiser=Pseudonymiser(KEY),
                              regions=regions)
    assert len(result.rows) == 1 and not result.rows["nik_valid"].iloc[0]
    warned = {w.code: w.n_rows for w in result.warnings}
    assert warned["nik_untrusted"] == 1 and warned["nik_fallback"] == 1


def test_unknown_stream_is_a_caller_error(regions):
    with pytest.raises(ValueError):
        parse_submission("nope", b"", "x.csv", pseudonymiser=Pseudonymiser(KEY), regions=regions)


def test_generator_small_output_parses(tmp_path, regions):
    """The demo generator's ``small`` output (when the generator exists): its special files fail
    the way it says, and a sample of the others (every stream) parses and reconciles."""
    generate = pytest.importorskip("pipelines.synthetic.generate").generate
    info = generate(tmp_path, "small", 7)
    master = tmp_path / "region_master.csv"
    index = RegionIndex.from_csv(master) if master.is_file() else regions
    special = info.get("special_files", {})
    expected = {f: "undecodable" for f in special.get("broken", [])}
    expected |= {f: "missing_columns" for f in special.get("missing_columns", [])}
    sample = {tmp_path / f for f in expected} | {tmp_path / f for f in special.get("revisi", [])}
    for folder in sorted(p for p in tmp_path.iterdir() if p.is_dir()):
        files = sorted(folder.iterdir())
        sample |= set(files[:: max(1, len(files) // 12)])  # ~12 files per stream keeps this test fast
    p = Pseudonymiser(KEY)
    errors, n_rows, seen_reasons = {}, 0, set()
    for path in sorted(sample):
        (hints,) = name_hints(path.parent.name, [(path.name,)])
        result = parse_submission(path.parent.name, path.read_bytes(), path.name, hints, pseudonymiser=p,
                                  regions=index)
        if result.file_error:
            errors[f"{path.parent.name}/{path.name}"] = result.file_error.split(":")[0]
            continue
        assert len(result.rows) + result.n_rejected_rows == result.n_source_rows, path.name
        n_rows += len(result.rows)
        seen_reasons |= set(result.rejects["reason_code"])
    assert errors == expected
    assert n_rows > 100
    assert seen_reasons <= set(REJECT_REASONS)


def test_survey_figures_take_a_province_row_and_refuse_a_zero_denominator(regions):
    body = (
        b"Kode Kab/Kota;Kabupaten/Kota;Tahun;Prevalensi Stunting SSGI (%);Prevalensi Stunting SKI (%);"
        b"Kemiskinan Ekstrem BPS (%);Jumlah Penduduk;Estimasi Jumlah Balita\n"
        b"36;Provinsi Banten;2024;21,1;;0,77;12.881.374;1.159.324\n"
        b"36.01;Kabupaten Pandeglang;2024;27,1;;1,17;0;120.000\n"
        b"36.02;Kabupaten Lebak;2024;24,8;;1,09;1.531.564;-5\n"
        b"37;Provinsi Jawa Tengah;2024;20,0;;1,0;1;1\n"
    )
    result = parse_submission("survey_figures", body, "36_2024.csv", pseudonymiser=Pseudonymiser(KEY),
                              regions=regions)
    rows = result.rows.set_index("row_number")
    assert rows.loc[2, "regency_code"] == "36" and rows.loc[2, "stunting_ssgi_pct"] == 21.1
    assert rows.loc[2, "population"] == 12_881_374
    # a population or under-five estimate of 0 or less is a denominator: refused, the row kept
    assert pd.isna(rows.loc[3, "population"]) and rows.loc[3, "balita_estimate"] == 120_000
    assert pd.isna(rows.loc[4, "balita_estimate"])
    assert reasons(result) == {3: {("population", "out_of_range", "value")},
                               4: {("balita_estimate", "out_of_range", "value")},
                               5: {("regency_code", "unknown_region_code", "row")}}
