"""The synthetic submission generator: determinism, region master, layouts, naming and quirks."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import Counter
from pathlib import Path

import numpy as np
import openpyxl
import pytest

from pipelines.ingestion.identity import parse_submission_name
from pipelines.parsing.layouts import LAYOUTS, STREAMS
from pipelines.synthetic.generate import generate
from tests.paths import SHARED

# DOMAIN.md §2: districts, desa, kelurahan per regency.
EXPECTED_COUNTS = {
    "36.01": (35, 326, 13), "36.02": (28, 340, 5), "36.03": (29, 246, 28), "36.04": (29, 326, 0),
    "36.71": (13, 0, 104), "36.72": (8, 0, 43), "36.73": (6, 0, 67), "36.74": (7, 0, 54),
}
REFERENCE = SHARED / "reference" / "banten_regions.csv"


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("landing")
    return out, generate(out, scale="small", seed=7)


def _special(summary: dict) -> set[str]:
    return {p for kind in ("broken", "missing_columns") for p in summary["special_files"][kind]}


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252")


def _read_rows(path: Path, stream: str) -> list[list[object]]:
    if path.suffix == ".xlsx":
        wb = openpyxl.load_workbook(path, read_only=True)
        return [list(r) for r in wb.active.iter_rows(values_only=True)]
    if path.suffix == ".json":
        records = json.loads(path.read_text("utf-8"))
        return [list(records[0].keys())] + [list(r.values()) for r in records]
    delimiter = "," if stream == "households" else ";"
    return list(csv.reader(io.StringIO(_decode(path.read_bytes()), newline=""), delimiter=delimiter))


def _files(out: Path, stream: str) -> list[Path]:
    return sorted(p for p in (out / stream).iterdir() if p.is_file())


def _region_master(out: Path) -> list[dict[str, str]]:
    with open(out / "region_master.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_same_seed_gives_byte_identical_files_and_mtimes(landing, tmp_path):
    out, _ = landing
    again = tmp_path / "again"
    generate(again, scale="small", seed=7)
    first = {p.relative_to(out): p for p in out.rglob("*") if p.is_file()}
    second = {p.relative_to(again): p for p in again.rglob("*") if p.is_file()}
    assert first.keys() == second.keys()
    assert any(p.suffix == ".xlsx" for p in first)
    for rel, path in first.items():
        assert path.read_bytes() == second[rel].read_bytes(), rel
        assert path.stat().st_mtime == second[rel].stat().st_mtime, rel


def test_another_seed_changes_the_submissions_but_not_the_geography(landing, tmp_path):
    out, _ = landing
    other = tmp_path / "other"
    generate(other, scale="small", seed=8)
    assert (other / "region_master.csv").read_bytes() == (out / "region_master.csv").read_bytes()
    assert {p.name for p in _files(other, "households")} != {p.name for p in _files(out, "households")}


def test_region_master_has_real_regencies_and_counts(landing):
    out, _ = landing
    rows = _region_master(out)
    levels = Counter(r["level"] for r in rows)
    assert levels == {"province": 1, "regency": 8, "district": 155, "village": 1552}
    villages = [r for r in rows if r["level"] == "village"]
    assert sum(r["code"][9] == "2" for r in villages) == 1238
    assert sum(r["code"][9] == "1" for r in villages) == 314
    for code, (n_dist, n_desa, n_kel) in EXPECTED_COUNTS.items():
        assert sum(r["level"] == "district" and r["parent_code"] == code for r in rows) == n_dist
        in_reg = [r for r in villages if r["code"].startswith(code + ".")]
        assert (sum(r["code"][9] == "2" for r in in_reg), sum(r["code"][9] == "1" for r in in_reg)) == (
            n_desa, n_kel)
    names = {r["code"]: r["name"] for r in rows if r["level"] == "regency"}
    assert names["36.04"] == "Kabupaten Serang" and names["36.73"] == "Kota Serang"


def test_region_master_matches_reference_regencies_and_counts(landing):
    if not REFERENCE.exists():
        pytest.skip("shared reference region master not available")
    out, _ = landing
    with open(REFERENCE, newline="", encoding="utf-8") as fh:
        ref = list(csv.DictReader(fh))

    def shape(rows):
        regs = {r["code"]: r["name"] for r in rows if r["level"] == "regency"}
        counts = Counter((r["code"][:5], r["level"], r["code"][9:10]) for r in rows if r["level"] != "province")
        return regs, counts

    assert shape(_region_master(out)) == shape(ref)


def test_region_master_contains_the_name_pitfalls(landing):
    out, _ = landing
    rows = _region_master(out)
    districts = [r for r in rows if r["level"] == "district"]
    cibeber = {r["parent_code"] for r in districts if r["name"] == "Cibeber"}
    assert cibeber == {"36.02", "36.72"}
    villages = [r for r in rows if r["level"] == "village"]
    per_district = Counter((r["parent_code"], r["name"]) for r in villages)
    assert max(per_district.values()) == 1
    per_regency = Counter((r["code"][:5], r["name"]) for r in villages)
    assert sum(n > 1 for n in per_regency.values()) >= 10
    for r in rows[1:]:
        assert r["code"].startswith(r["parent_code"] + "."), r


def test_every_file_has_the_layout_headers_and_a_valid_name(landing):
    out, summary = landing
    special = _special(summary)
    for stream in STREAMS:
        files = _files(out, stream)
        assert files, stream
        assert summary[stream]["files"] == len(files)
        n_rows = 0
        for path in files:
            key = parse_submission_name(stream, path.name)
            assert key.file_format == path.suffix[1:]
            rel = f"{stream}/{path.name}"
            if rel in special:
                continue
            rows = _read_rows(path, stream)
            headers = [str(h) for h in rows[0]]
            expected = list(LAYOUTS[stream].headers)
            if stream == "households" and "Penerima BNBT" in headers:
                expected = [{"Penerima BPNT": "Penerima BNBT", "Kode Kemendagri": "Kode Kemdagri"}.get(h, h)
                            for h in expected]
            assert headers == expected, rel
            assert all(len(r) == len(headers) for r in rows[1:]), rel
            n_rows += len(rows) - 1
        if stream != "child_measurements":
            assert n_rows == summary[stream]["rows"], stream


def test_households_use_variant_headers_in_a_couple_of_files(landing):
    out, _ = landing
    variants = [p for p in _files(out, "households") if b"Penerima BNBT" in p.read_bytes().split(b"\n")[0]]
    assert len(variants) == 2
    assert b"Kode Kemdagri" in variants[0].read_bytes().split(b"\n")[0]


def test_child_csv_encodings_and_excel_quirks(landing):
    out, summary = landing
    special = _special(summary)
    kinds = Counter()
    for path in _files(out, "child_measurements"):
        raw = path.read_bytes()
        if path.suffix != ".csv" or f"child_measurements/{path.name}" in special:
            continue
        assert raw.count(b"\r\n") == raw.count(b"\n")
        if raw.startswith(b"\xef\xbb\xbf"):
            kinds["bom"] += 1
            continue
        try:
            raw.decode("utf-8")
            kinds["utf-8"] += 1
        except UnicodeDecodeError:
            text = raw.decode("cp1252")
            assert "’" in text or "É" in text
            kinds["cp1252"] += 1
    assert kinds["bom"] > 50 and kinds["cp1252"] > 10 and kinds["utf-8"] > 50


def test_xlsx_child_files_store_dates_as_plain_serials(landing):
    out, _ = landing
    path = next(p for p in _files(out, "child_measurements") if p.suffix == ".xlsx")
    wb = openpyxl.load_workbook(path)
    header = [c.value for c in wb.active[1]]
    birth = wb.active.cell(row=2, column=header.index("Tgl Lahir") + 1)
    measured = wb.active.cell(row=2, column=header.index("Tanggal Pengukuran") + 1)
    assert isinstance(measured.value, int) and not measured.is_date
    day = dt.date(1899, 12, 30) + dt.timedelta(days=measured.value)
    assert day.strftime("%Y-%m") in path.name
    assert isinstance(birth.value, int) and birth.value < measured.value


def _child_rows(out: Path, summary: dict, period: str) -> list[dict[str, str]]:
    special = _special(summary)
    rows = []
    for path in _files(out, "child_measurements"):
        if path.suffix == ".csv" and f"_{period}.csv" in path.name and \
                f"child_measurements/{path.name}" not in special:
            rows.extend(csv.DictReader(io.StringIO(_decode(path.read_bytes()), newline=""), delimiter=";"))
    return rows


def test_child_rows_carry_the_documented_quirks(landing):
    out, summary = landing
    rows = _child_rows(out, summary, "2024-08")
    assert any(r["ZS TB/U"] == "999,99" for r in rows)
    assert any(r["Tgl Lahir"].startswith("2/3") and r["Tgl Lahir"].split("/")[1] in ("30", "31") for r in rows)
    assert any(r["Berat"] in ("-3", "250") for r in rows)
    assert any(r["Tinggi"] == "0" for r in rows)
    assert any(r["Desa/Kel"].startswith("RAWA") for r in rows)
    assert any(" " in r["Desa/Kel"] for r in rows)
    pairs = Counter((r["NIK"], r["Tanggal Pengukuran"]) for r in rows)
    assert sum(n > 1 for n in pairs.values()) >= 3
    short = sum(len(r["NIK"].strip()) < 16 for r in rows)
    assert 0.01 < short / len(rows) < 0.06
    assert all(r["Kab/Kota"].startswith(("KAB ", "KOTA ")) for r in rows)
    assert {r["Cara Ukur"] for r in rows} == {"Terlentang", "Berdiri"}


def test_same_children_come_back_next_month(landing):
    out, summary = landing
    july = {r["NIK"]: (r["Nama"], r["Tgl Lahir"]) for r in _child_rows(out, summary, "2024-07")}
    august = {r["NIK"]: (r["Nama"], r["Tgl Lahir"]) for r in _child_rows(out, summary, "2024-08")}
    shared = july.keys() & august.keys()
    assert len(shared) > 0.8 * len(august)
    assert sum(july[k] == august[k] for k in shared) > 0.98 * len(shared)


def test_exported_zscores_agree_with_an_independent_who_implementation(landing):
    from pygrowup.pygrowup import Observation

    out, summary = landing
    rows = [r for r in _child_rows(out, summary, "2024-08") if r["ZS TB/U"] != "999,99"][:600]
    diffs = []
    for r in rows:
        born = dt.datetime.strptime(r["Tgl Lahir"], "%m/%d/%Y").date()
        measured = dt.datetime.strptime(r["Tanggal Pengukuran"], "%m/%d/%Y").date()
        age = (measured - born).days
        if age < 1 or age > 1856:
            continue
        obs = Observation("male" if r["JK"] == "L" else "female", age_in_days=age)
        height = float(r["Tinggi"].replace(",", "."))
        expected = float(obs.lhfa(height, recumbent=r["Cara Ukur"] == "Terlentang", auto_adjust=False)
                         if (age < 731) == (r["Cara Ukur"] == "Terlentang") else
                         obs.lhfa(height + (0.7 if age < 731 else -0.7), auto_adjust=False))
        diffs.append(abs(expected - float(r["ZS TB/U"].replace(",", "."))))
    diffs = np.array(diffs)
    assert len(diffs) > 400
    assert np.mean(diffs < 0.011) > 0.95
    assert 0.001 < np.mean(diffs > 0.05) < 0.05


def test_special_submissions(landing):
    out, summary = landing
    special = summary["special_files"]
    broken = out / special["broken"][0]
    with pytest.raises(UnicodeDecodeError):
        broken.read_bytes().decode("utf-8")
    missing = out / special["missing_columns"][0]
    header = next(csv.reader(io.StringIO(_decode(missing.read_bytes())), delimiter=";"))
    assert "Tanggal Pengukuran" not in header and "NIK" in header
    revisi = out / special["revisi"][0]
    original = revisi.with_name(revisi.name.replace("_revisi", ""))
    assert revisi.stat().st_mtime > original.stat().st_mtime
    assert revisi.read_bytes() != original.read_bytes()
    aksi = {p.name[:5] for p in _files(out, "aksi_reports")}
    assert len(aksi) == 7


def test_received_times_follow_the_period_and_some_are_late(landing):
    out, _ = landing
    lateness = []
    for path in _files(out, "child_measurements"):
        period = path.name.split("_")[1].split(".")[0]
        end = dt.datetime(int(period[:4]), int(period[5:]) + 1, 1, tzinfo=dt.UTC)
        lateness.append((path.stat().st_mtime - end.timestamp()) / 86400)
    lateness = np.array(lateness)
    assert lateness.min() > -1
    assert 0.03 < np.mean(lateness > 10) < 0.25


def test_national_provinces_repeat_banten_under_their_own_codes_and_names(tmp_path):
    """The national benchmark's provinces: Banten's geography under another code, every regency
    name unique in the national master, and their files parse against it like Banten's."""
    import pandas as pd

    from pipelines.parsing.parse import parse_submission
    from pipelines.parsing.pseudonym import Pseudonymiser
    from pipelines.parsing.regions import RegionIndex
    from pipelines.synthetic.generate import SCALES, _write_province, national_province_codes
    from pipelines.synthetic.generate_names import build_geography

    codes = national_province_codes()
    assert len(codes) == 53 and len(set(codes)) == 53 and codes[0] == "36"
    banten, other = build_geography(), build_geography("11", "Sintetis 11")
    assert all(str(c).startswith("11.") for c in other.village_codes)
    assert len(other.village_codes) == len(banten.village_codes) == 1552
    rows = banten.region_master_rows() + other.region_master_rows()
    master = pd.DataFrame(rows, columns=["code", "level", "name", "parent_code"])
    assert not master["code"].duplicated().any()
    regency_names = master.loc[master["level"] == "regency", "name"]
    assert not regency_names.duplicated().any() and "Kabupaten Pandeglang 11" in set(regency_names)
    regions = RegionIndex.from_frame(master)
    assert regions.resolve_regency("KAB PANDEGLANG 11") == "11.01"
    assert regions.resolve_regency("KAB PANDEGLANG") == "36.01"

    counts = _write_province(tmp_path, "11", SCALES["small"], 7)
    assert counts["child_measurements"]["rows"] > 0 and counts["households"]["rows"] > 0
    child = sorted((tmp_path / "child_measurements").glob("11.*_2024-08.csv"))[0]
    result = parse_submission("child_measurements", child.read_bytes(), child.name,
                              pseudonymiser=Pseudonymiser(b"k"), regions=regions)
    assert len(result.rows) > 0 and result.rows["village_code"].str.startswith("11.").all()
    assert not set(result.rejects["reason_code"]) & {"unknown_regency", "unknown_district"}
