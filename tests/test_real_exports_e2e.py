"""Real exports, end to end: e-PPGBM files as Banten staff send them — named by a person, several
villages or a whole regency per file, day-first dates whose measurement days are all <= 12,
NIKs that Excel turned into numbers, zero heights, a corrected re-export under another name —
land every row that can be landed, and `marts.fct_stunting_prevalence` per village, district,
regency and province equals what a careful analyst computes by hand from the same files.

The analyst works from the files alone: pandas to read them, the region master to find village
codes, an independent per-row reading of WHO anthro (tests/growth) for HAZ, WHO's flag, the
latest measurement of each child in the month, and counts.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pytest

from pipelines.growth.rounding import r_round
from tests.growth.test_zscores import reference_row
from tests.sites import pipeline_site

pytestmark = pytest.mark.slow

MONTH = "2024-08"
REGENCY = "36.01"
KEY = "real-exports-test-key-0123456789abcdef"
DISTRICT_FILE = "Data Pengukuran Balita Agustus 2024.csv"
REVISED_FILE = "data balita agt 2024 (revisi).csv"
REGENCY_FILE = "EPPGBM Kab Pandeglang Agustus 2024.xlsx"
ZERO_HEIGHTS = 3


def _read_source(path: Path) -> pd.DataFrame:
    if path.suffix == ".xlsx":
        return pd.read_excel(path, dtype=str)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")  # Windows exports
    return pd.read_csv(io.StringIO(text), sep=None, engine="python", dtype=str, keep_default_na=False)


def _dates(values: pd.Series) -> pd.Series:
    """A generated file's dates, whichever order it used: the order under which the measurement
    month is August 2024 (the careful reading of one file)."""
    text = values.astype(str).str.strip().str.slice(0, 10)
    tries = [pd.to_datetime(text, format=fmt, errors="coerce") for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y")]
    return max(tries, key=lambda parsed: parsed.notna().sum())


def _august_rows(generated: Path) -> pd.DataFrame:
    """Every clean August row of one regency's villages (dates readable, birth before measurement,
    a village the region master knows), dates as real dates."""
    codes = _village_codes(generated / "region_master.csv")
    frames = []
    for path in sorted((generated / "child_measurements").glob(f"{REGENCY}.*_{MONTH}.*")):
        if "_" in path.stem.split("_", 1)[1]:  # revised / broken special files
            continue
        df = _read_source(path)
        df["measured"] = _dates(df["Tanggal Pengukuran"])
        df["birth"] = _dates(df["Tgl Lahir"])
        frames.append(df)
    rows = pd.concat(frames, ignore_index=True)
    rows = rows[rows["measured"].dt.strftime("%Y-%m").eq(MONTH) & rows["birth"].notna()]
    rows = rows[rows["NIK"].str.fullmatch(r"\d{16}") & rows["Nama"].str.len().gt(0)]
    rows = rows[rows["birth"] <= rows["measured"]]
    rows = rows[[(_norm(a), _norm(b), _norm(c)) in codes for a, b, c in
                 zip(rows["Kab/Kota"], rows["Kec"], rows["Desa/Kel"], strict=True)]]
    for column in ("Berat", "Tinggi"):
        value = pd.to_numeric(rows[column].str.replace(",", "."), errors="coerce")
        rows = rows[value.notna()]
    return rows.reset_index(drop=True)


def _write_csv_day_first(rows: pd.DataFrame, path: Path, columns: list[str]) -> None:
    out = rows.copy()
    out["Tgl Lahir"] = out["birth"].dt.strftime("%d/%m/%Y")
    out["Tanggal Pengukuran"] = out["measured"].dt.strftime("%d/%m/%Y")
    out[columns].to_csv(path, sep=";", index=False, encoding="utf-8-sig")


def _write_xlsx_numeric_nik(rows: pd.DataFrame, path: Path, columns: list[str]) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(columns)
    for _, row in rows.iterrows():
        cells = []
        for column in columns:
            value = row[column]
            if column == "NIK":
                value = float(value)  # what Excel does to a 16-digit number typed in a cell
            elif column == "Tgl Lahir":
                value = row["birth"].to_pydatetime()
            elif column == "Tanggal Pengukuran":
                value = row["measured"].to_pydatetime()
            elif column in ("Berat", "Tinggi"):
                value = float(str(value).replace(",", "."))
            cells.append(value)
        sheet.append(cells)
    book.save(path)


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """The landing folder, the region master, and the final content of each file the analyst reads."""
    from pipelines.synthetic.generate import generate

    root = tmp_path_factory.mktemp("real_exports")
    generate(root / "generated", scale="small", seed=7)
    rows = _august_rows(root / "generated")
    columns = [c for c in rows.columns if c not in ("measured", "birth")]
    district = rows.groupby("Kec")["Desa/Kel"].nunique().sort_values(kind="stable").index[-1]
    one_district = rows[rows["Kec"].eq(district)].copy()
    # Measurement days all <= 12: only the birth dates tell the order is day-first.
    one_district["measured"] = one_district["measured"].map(lambda d: d.replace(day=(d.day - 1) % 12 + 1))
    one_district = one_district[one_district["birth"] <= one_district["measured"]].reset_index(drop=True)
    one_district.loc[: ZERO_HEIGHTS - 1, "Tinggi"] = "0"  # "not measured", as cadres type it
    others = rows[rows["Kec"].ne(district)].reset_index(drop=True)
    assert one_district["Desa/Kel"].nunique() > 1 and others["Kec"].nunique() > 1

    landing = root / "landing" / "child_measurements"
    landing.mkdir(parents=True)
    _write_csv_day_first(one_district, landing / DISTRICT_FILE, columns)
    revised = one_district.copy()
    revised.loc[ZERO_HEIGHTS, "Berat"] = "9,9"  # the correction the re-export carries
    _write_csv_day_first(revised, landing / REVISED_FILE, columns)
    _write_xlsx_numeric_nik(others, landing / REGENCY_FILE, columns)
    return {
        "landing": root / "landing",
        "region_master": root / "generated" / "region_master.csv",
        "final": [(revised, True), (others, False)],  # (rows, NIK trusted)
        "files": [DISTRICT_FILE, REVISED_FILE, REGENCY_FILE],
    }


def _village_codes(region_master: Path) -> dict[tuple[str, str, str], str]:
    master = pd.read_csv(region_master, dtype=str)
    names = master.set_index("code")["name"].map(_norm)
    codes = {}
    for code in master.loc[master["level"].eq("village"), "code"]:
        district, regency = code.rsplit(".", 1)[0], code.rsplit(".", 2)[0]
        codes[(names[regency], names[district], names[code])] = code
    return codes


def _norm(name: str) -> str:
    name = re.sub(r"^(KABUPATEN|KAB\.?|KOTA|KECAMATAN|KEC\.?|DESA|KELURAHAN|KEL\.?)\s+", "", str(name).upper())
    return re.sub(r"[^A-Z0-9]", "", name)


def analyst_prevalence(exports) -> pd.DataFrame:
    """Stunting per region by hand: one child = its NIK when the NIK is a real 16-digit text, else
    its name, birth date and village; its latest August measurement counts; HAZ from WHO's
    tables, rounded to 2 decimals as WHO anthro rounds it before classifying; |HAZ| > 6 is WHO's
    implausible flag; heights of 0 are not measured."""
    codes = _village_codes(exports["region_master"])
    children = []
    for rows, nik_trusted in exports["final"]:
        for _, row in rows.iterrows():
            village = codes[(_norm(row["Kab/Kota"]), _norm(row["Kec"]), _norm(row["Desa/Kel"]))]
            height = float(str(row["Tinggi"]).replace(",", "."))
            age = (row["measured"] - row["birth"]).days
            measure = {"TERLENTANG": "l", "BERDIRI": "h"}.get(str(row["Cara Ukur"]).upper())
            sex = {"L": 1, "P": 2}.get(str(row["JK"]).upper())
            weight = float(str(row["Berat"]).replace(",", "."))
            exact = reference_row(sex, float(age), weight, height if height > 0 else float("nan"), measure)[0]
            haz = float(r_round(exact))
            who = row["NIK"] if nik_trusted else f"{row['Nama']}|{row['birth'].date()}|{village}"
            children.append({"child": who, "village": village, "measured": row["measured"], "age": age,
                             "haz": haz})
    df = pd.DataFrame(children)
    df = df[df["age"].between(0, 1826)]
    df = df.sort_values("measured").groupby("child", as_index=False).last()
    valid = df[df["haz"].map(lambda z: not math.isnan(z) and abs(z) <= 6)]
    out = []
    for level, cut in (("village", 4), ("district", 3), ("regency", 2), ("province", 1)):
        region = valid["village"].map(lambda c, n=cut: ".".join(c.split(".")[:n]))
        counts = valid.assign(region=region, case=valid["haz"] < -2).groupby("region")["case"].agg(["size", "sum"])
        for code, (n, cases) in counts.iterrows():
            out.append((level, code, int(n), int(cases)))
    return pd.DataFrame(out, columns=["region_level", "region_code", "n_children", "n_cases"])


@pytest.fixture(scope="module")
def warehouse(exports, tmp_path_factory):
    from pipelines.runs.inprocess import run_pipeline

    root = tmp_path_factory.mktemp("real_exports_run")
    with pipeline_site(root, KONVERGENSI_LANDING_DIR=exports["landing"], KONVERGENSI_PSEUDONYM_KEY=KEY,
                       KONVERGENSI_REGION_MASTER=exports["region_master"]):
        summary = run_pipeline(MONTH, MONTH, quiet=True)
    assert summary.success, summary.render()
    con = duckdb.connect(str(root / "wh" / "work" / "banten.duckdb"), read_only=True)
    yield con
    con.close()


def test_every_file_lands_under_the_identity_its_content_gives(warehouse, exports):
    subs = warehouse.execute(
        "select file_name, status, submitter_level, submitter_code, period, version, n_source_rows, "
        "n_rows_accepted from raw.submissions order by file_name").df().set_index("file_name")
    assert set(subs.index) == set(exports["files"])
    assert subs["status"].eq("accepted").all(), subs
    assert warehouse.execute("select count(*) from quarantine.rejected_files").fetchone()[0] == 0
    district, revised, regency = (subs.loc[f] for f in (DISTRICT_FILE, REVISED_FILE, REGENCY_FILE))
    assert (district["submitter_level"], district["period"], district["version"]) == ("district", MONTH, 1)
    # the re-export under another name is the next version of the same submission
    assert (revised["submitter_code"], revised["version"]) == (district["submitter_code"], 2)
    assert (regency["submitter_level"], regency["submitter_code"]) == ("regency", REGENCY)
    # every row that can be landed is landed: zero heights and numeric NIKs lose only a value
    assert (subs["n_rows_accepted"] == subs["n_source_rows"]).all(), subs


def test_numeric_niks_never_identify_a_child(warehouse):
    by_file = dict(warehouse.execute(
        "select s.file_name, bool_or(m.nik_valid) from raw.child_measurements m "
        "join raw.submissions s using (submission_id) group by 1").fetchall())
    assert by_file[REGENCY_FILE] is False and by_file[REVISED_FILE] is True


def test_day_first_dates_read_as_meant(warehouse):
    months = warehouse.execute(
        "select distinct strftime(measured_on, '%Y-%m') from raw.child_measurements").fetchall()
    assert months == [(MONTH,)]


def test_stunting_prevalence_equals_the_analysts(warehouse, exports):
    expected = analyst_prevalence(exports)
    got = warehouse.execute(
        "select region_level, region_code, n_children, n_cases from marts.fct_stunting_prevalence "
        "where indicator = 'stunting' and period = ? and n_children > 0", [MONTH]).df()
    merged = expected.merge(got, on=["region_level", "region_code"], how="outer", suffixes=("_analyst", "_mart"),
                            indicator=True)
    assert merged["_merge"].eq("both").all(), merged[merged["_merge"] != "both"]
    diff = merged[(merged["n_children_analyst"] != merged["n_children_mart"])
                  | (merged["n_cases_analyst"] != merged["n_cases_mart"])]
    assert diff.empty, diff
    province = merged[merged["region_level"].eq("province")].iloc[0]
    assert province["n_children_mart"] > 100  # a real month, not a handful
    print(f"\nprovince {province['region_code']}: {province['n_cases_mart']} stunted of "
          f"{province['n_children_mart']} children ({dt.date.today()})")
