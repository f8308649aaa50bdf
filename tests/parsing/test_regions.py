"""Region name resolution and code validation (pipelines.parsing.regions)."""

from __future__ import annotations

import pandas as pd

from pipelines.parsing.regions import RegionIndex, normalise_codes, normalise_name


def resolve(regions, *triples):
    frame = pd.DataFrame(triples, columns=["r", "d", "v"])
    return regions.resolve(frame["r"], frame["d"], frame["v"])


def test_prefix_spellings_unify_but_are_never_dropped():
    assert normalise_name("Kabupaten Serang", "regency") == "KAB SERANG"
    assert normalise_name("KAB. SERANG", "regency") == "KAB SERANG"
    assert normalise_name("kab serang", "regency") == "KAB SERANG"
    assert normalise_name("Kota  Serang", "regency") == "KOTA SERANG"


def test_kab_and_kota_with_the_same_name_resolve_to_different_regencies(regions):
    out = resolve(
        regions,
        ("KAB SERANG", "CIKANDE", "CIKANDE"),
        ("KOTA SERANG", "SERANG", "CIMUNCANG"),
        ("KABUPATEN TANGERANG", "CURUG", "CURUG WETAN"),
        ("KOTA TANGERANG", "TANGERANG", "SUKARASA"),
    )
    assert out["regency_code"].tolist() == ["36.04", "36.73", "36.03", "36.71"]
    assert out["village_code"].tolist() == ["36.04.15.2001", "36.73.01.1006", "36.03.17.2002", "36.71.01.1001"]
    assert out["reason"].isna().all()


def test_bare_ambiguous_regency_is_refused(regions):
    out = resolve(regions, ("SERANG", "SERANG", "CIMUNCANG"), ("TANGERANG", "CURUG", "CURUG WETAN"))
    assert out["reason"].tolist() == ["unknown_regency", "unknown_regency"]
    assert "ambiguous" in out["detail"].iloc[0]


def test_district_is_looked_up_inside_its_regency(regions):
    # Curug is a district of both Kab. Tangerang and Kota Serang, but not of Kab. Serang.
    out = resolve(regions, ("KOTA SERANG", "CURUG", "x"), ("KAB SERANG", "CURUG", "x"))
    assert out["district_code"].iloc[0].startswith("36.73.")
    assert out["reason"].tolist() == ["unknown_village", "unknown_district"]
    assert "Kabupaten Serang" in out["detail"].iloc[1]


def test_repeated_village_names_resolve_by_district(regions):
    out = resolve(regions, ("KAB PANDEGLANG", "PANIMBANG", "MEKARJAYA"), ("KAB PANDEGLANG", "CIKEDAL", "MEKARJAYA"))
    assert out["village_code"].tolist() == ["36.01.06.2002", "36.01.26.2007"]


def test_space_removed_and_type_word_fallbacks_stay_inside_the_district(regions):
    out = resolve(
        regions,
        ("KAB PANDEGLANG", "SUMUR", "SUMBER JAYA"),
        ("KAB PANDEGLANG", "KEC. SUMUR", "DESA KERTAJAYA"),
        ("KAB PANDEGLANG", "CIMANGGU", "SUMBER JAYA"),  # Sumberjaya is not in Cimanggu
    )
    assert out["village_code"].tolist()[:2] == ["36.01.01.2001", "36.01.01.2002"]
    assert out["reason"].iloc[2] == "unknown_village"


def test_alias_table(regions):
    out = resolve(regions, ("TANGSEL", "x", "y"))
    assert out["regency_code"].iloc[0] == "36.74"


def test_each_distinct_triple_resolved_once_and_mapped_back(regions):
    rows = [("KAB SERANG", "CIKANDE", "CIKANDE"), ("KOTA SERANG", "SERANG", "CIMUNCANG")] * 5000
    out = resolve(regions, *rows)
    assert out["village_code"].value_counts().to_dict() == {"36.04.15.2001": 5000, "36.73.01.1006": 5000}


def test_codes_normalised_and_validated(regions):
    codes = normalise_codes(pd.Series(["3604152001", " 36.04.15.2001 ", 3604.0, "36.99.99.9999", None], dtype=object))
    assert codes.tolist()[:4] == ["36.04.15.2001", "36.04.15.2001", "36.04", "36.99.99.9999"]
    assert regions.validate_code(codes, "village").tolist() == [True, True, False, False, False]
    assert regions.validate_code(codes, ("regency", "village")).tolist() == [True, True, True, False, False]


def test_from_frame_small_master():
    df = pd.DataFrame(
        [("36", "province", "Banten", ""), ("36.04", "regency", "Kabupaten Serang", "36"),
         ("36.04.15", "district", "Cikande", "36.04"), ("36.04.15.2001", "village", "Cikande", "36.04.15")],
        columns=["code", "level", "name", "parent_code"],
    )
    small = RegionIndex.from_frame(df)
    out = resolve(small, ("Kab. Serang", "Cikande", "Cikande"))
    assert out["village_code"].iloc[0] == "36.04.15.2001"
