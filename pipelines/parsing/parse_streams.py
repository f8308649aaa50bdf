"""Parsers of every stream: e-PPGBM child measurements, P3KE households, village scorecards,
aksi reports, lokus villages, survey figures and OPD programmes. Each returns one typed row per
source row (same index as the raw cells) and records its rejects and per-file warnings on the
:class:`Context` (which may hold the rows of many files). Whether a reject quarantines the row or
nulls the value alone follows from its column (``Layout.row_level``; docs/quality.md): a value
reject's typed value is nulled by the parse (:data:`NULLED_COLUMN` when the names differ).
"""

from __future__ import annotations

import pandas as pd

from pipelines.parsing import dates as D
from pipelines.parsing import values as V
from pipelines.parsing.parse_context import Context
from pipelines.parsing.pseudonym import child_ids, nik_facts
from pipelines.parsing.regions import normalise_codes

AKSI_STATUS = {
    "BELUM DIMULAI": "not_started", "NOT STARTED": "not_started", "NOT_STARTED": "not_started",
    "DALAM PROSES": "in_progress", "PROSES": "in_progress", "IN PROGRESS": "in_progress", "IN_PROGRESS": "in_progress",
    "TERUNGGAH": "uploaded", "SUDAH DIUNGGAH": "uploaded", "UPLOADED": "uploaded",
    "TERVERIFIKASI": "verified", "VERIFIED": "verified",
}
INTERVENTION_TYPE = {
    "SPESIFIK": "specific", "SPECIFIC": "specific", "GIZI SPESIFIK": "specific",
    "SENSITIF": "sensitive", "SENSITIVE": "sensitive", "GIZI SENSITIF": "sensitive",
}
P3KE_FLAGS = ("receives_bpnt", "receives_bpum", "receives_bst", "receives_pkh", "receives_sembako")
WEIGHT_RANGE_KG = (0.9, 58.0)  # WHO anthro clean-up bounds
LENHEI_RANGE_CM = (38.0, 150.0)
BIRTH_WEIGHT_RANGE_KG = (0.5, 6.0)  # after grams -> kg; the suites' plausibility bounds
BIRTH_LENGTH_RANGE_CM = (25.0, 65.0)  # after mm -> cm
# Output column nulled by a value reject of a raw column of another name (else the same name).
NULLED_COLUMN = {"measure_position": "measure"}
Z_SENTINEL = 999.99
REGION_REASONS = (
    ("unknown_regency", "regency_name"),
    ("unknown_district", "district_name"),
    ("unknown_village", "village_name"),
)


def token_with_scope(ctx: Context, kind: str, values: pd.Series, scope: pd.Series) -> pd.Series:
    """Token of ``"<value>|<scope>"`` (e.g. a name scoped by village code); NA when the value is empty.

    Scoping keeps two different people with a common name in different villages apart.
    """
    return ctx.pseudonymiser.scoped_token(kind, values, scope)


def _nik_facts(ctx: Context, fallback: str) -> tuple[pd.Series, pd.Series, pd.Series]:
    """:func:`~pipelines.parsing.pseudonym.nik_facts` of the NIK column, with the warning
    ``nik_untrusted``: per file, the NIKs that arrived as numbers (never used as an identity)."""
    facts = nik_facts(ctx.cell("nik"))
    n = ctx.file_count(facts[2])
    ctx.warn(n > 0, "nik_untrusted",
             lambda f: f"{n[f]} NIKs arrived as numbers (a spreadsheet number cell or text such as 3.6E+15: "
                       f"Excel keeps 15 significant digits): not used, {fallback}", n)
    return facts


def _head_id(ctx: Context, village_code: pd.Series) -> tuple[pd.Series, pd.Series]:
    digits, valid, _ = _nik_facts(ctx, "head_id from the head's name and village")
    by_nik = ctx.pseudonymiser.token("nik", digits.where(valid))
    by_name = ctx.pseudonymiser.scoped_token("head", ctx.cell("head_name"), village_code,
                                             where=~valid.to_numpy(dtype=bool))
    return by_nik.where(valid, by_name), valid


def _measurements(ctx: Context, birth: pd.Series, measured: pd.Series) -> dict[str, pd.Series]:
    """Weight, length/height and birth values, range-checked (a value outside is nulled alone);
    birth values typed in grams (3800) or millimetres (500) are rescaled with a warning (common,
    DOMAIN.md §4, §8.4), then range-checked."""
    after = (birth > measured).fillna(False).astype(bool)
    ctx.reject(after, "birth_date", "birth_after_measurement", "birth date is after the measurement date")
    weight = ctx.in_range("weight_kg", ctx.decimal("weight_kg"), *WEIGHT_RANGE_KG, reason="weight_out_of_range")
    lenhei = ctx.decimal("lenhei_cm")
    zero = lenhei.eq(0).fillna(False).astype(bool)
    ctx.reject(zero, "lenhei_cm", "missing_value", "0 means not measured")
    lenhei = ctx.in_range("lenhei_cm", lenhei.mask(zero), *LENHEI_RANGE_CM, reason="lenhei_out_of_range")

    birth_weight = ctx.decimal("birth_weight_kg", zero_is_null=True)
    birth_length = ctx.decimal("birth_length_cm", zero_is_null=True)
    grams, mm = birth_weight.gt(100), birth_length.gt(100)
    n_grams, n_mm = ctx.file_count(grams), ctx.file_count(mm)
    ctx.warn((n_grams > 0) | (n_mm > 0), "unit_rescaled",
             lambda f: f"birth values rescaled: {n_grams[f]} weights g->kg, {n_mm[f]} lengths mm->cm", n_grams + n_mm)
    birth_weight = birth_weight.where(~grams, birth_weight / 1000)
    birth_length = birth_length.where(~mm, birth_length / 10)
    return {
        "weight_kg": weight,
        "lenhei_cm": lenhei,
        "birth_weight_kg": ctx.in_range("birth_weight_kg", birth_weight, *BIRTH_WEIGHT_RANGE_KG),
        "birth_length_cm": ctx.in_range("birth_length_cm", birth_length, *BIRTH_LENGTH_RANGE_CM),
    }


def _resolved_region(ctx: Context) -> tuple[dict[str, pd.Series], pd.Series]:
    """Regency, district and village names, and the village code they resolve to; a name the
    region master does not know is rejected with its level's reason."""
    names = {c: ctx.text(c) for _, c in REGION_REASONS}
    region = ctx.regions.resolve(names["regency_name"], names["district_name"], names["village_name"])
    for reason, column in REGION_REASONS:
        failed = region["reason"].eq(reason).fillna(False) & names[column].notna()
        ctx.reject(failed.astype(bool), column, reason, region["detail"])
    return names, region["village_code"]


def _child_tokens(ctx: Context, birth: pd.Series, village_code: pd.Series) -> dict[str, pd.Series]:
    """Pseudonyms of the child (a usable NIK, else name + birth date + village), the parent and the
    address. A row with neither a usable NIK nor a name cannot be identified: rejected whole."""
    facts = _nik_facts(ctx, "child_id from name, birth date and village")
    child_id, nik_valid = child_ids(
        ctx.pseudonymiser, ctx.cell("nik"), ctx.cell("child_name"), D.iso_text(birth), village_code, facts
    )
    named = ctx.text("child_name").notna()
    ctx.reject(~nik_valid & ~named, "child_name", "missing_value",
               "no name and no usable NIK: the child cannot be identified")
    n_fallback = ctx.file_count(~nik_valid & named)
    ctx.warn(n_fallback > 0, "nik_fallback",
             lambda f: f"{n_fallback[f]} rows without a usable 16-digit NIK: child_id from name, birth date, village",
             n_fallback)
    address_key = V.joined_text(ctx.text("address"), "|RT ", ctx.text("rt"), "|RW ", ctx.text("rw"))
    has_address = ctx.text("address").notna() | ctx.text("rt").notna() | ctx.text("rw").notna()
    return {
        "child_id": child_id,
        "nik_valid": nik_valid,
        "parent_id": token_with_scope(ctx, "parent", ctx.cell("parent_name"), village_code),
        "address_id": token_with_scope(ctx, "address", address_key.where(has_address), village_code),
    }


def parse_child_measurements(ctx: Context) -> pd.DataFrame:
    """e-PPGBM export -> one row per measurement (grain: child x measurement date, duplicates kept)."""
    ctx.require(skip=("nik", "child_name"))  # judged together: either one identifies the child
    dates = ctx.dates(("birth_date", "measured_on"), measured="measured_on")
    birth, measured = dates["birth_date"], dates["measured_on"]
    ctx.check_measured(measured)
    sizes = _measurements(ctx, birth, measured)
    names, village_code = _resolved_region(ctx)
    tokens = _child_tokens(ctx, birth, village_code)
    gain = ctx.text("weight_gain_code").str.upper()
    return pd.DataFrame({
        **tokens,
        "sex": ctx.enum("sex", V.SEX_CODES, "invalid_sex", "Int64"),
        "birth_date": birth,
        "measured_on": measured,
        "age_days_export": ctx.per_value("age_text", D.parse_age_days),
        "weight_kg": sizes["weight_kg"],
        "lenhei_cm": sizes["lenhei_cm"],
        "measure": ctx.enum("measure_position", V.MEASURE_CODES),
        "muac_cm": ctx.decimal("muac_cm", zero_is_null=True),
        "birth_weight_kg": sizes["birth_weight_kg"],
        "birth_length_cm": sizes["birth_length_cm"],
        "haz_export": ctx.decimal("haz_export", sentinels=(Z_SENTINEL,)),
        "waz_export": ctx.decimal("waz_export", sentinels=(Z_SENTINEL,)),
        "whz_export": ctx.decimal("whz_export", sentinels=(Z_SENTINEL,)),
        "wfa_label": ctx.label("wfa_label"),
        "hfa_label": ctx.label("hfa_label"),
        "wfh_label": ctx.label("wfh_label"),
        "weight_gain_code": gain.where(gain.isin(["N", "T", "O", "B"]).astype(bool)),
        **names,
        "village_code": village_code,
        "puskesmas": ctx.label("puskesmas"),
        "posyandu": ctx.label("posyandu"),
    }, index=ctx.raw.index)


def parse_households(ctx: Context) -> pd.DataFrame:
    """P3KE household register -> one row per household (grain: household x file)."""
    ctx.require()
    village_code = ctx.region_code("village_code", "village")
    decile, bad = ctx.per_value("welfare_decile", V.parse_int)
    bad = bad | (decile.notna() & ~decile.between(1, 4)).astype(bool)
    ctx.reject_bad(bad, "welfare_decile", "invalid_decile", "welfare decile must be 1-4")
    head_id, nik_valid = _head_id(ctx, village_code)
    n_members = ctx.integer("n_members")
    out = {
        "household_id": ctx.pseudonymiser.token("family", ctx.cell("family_id")),
        "head_id": head_id,
        "nik_valid": nik_valid,
        "address_id": token_with_scope(ctx, "address", ctx.cell("address"), village_code),
        "village_code": village_code,
        "regency_name": ctx.text("regency_name"),
        "district_name": ctx.text("district_name"),
        "village_name": ctx.text("village_name"),
        "welfare_decile": decile.mask(bad),
        "nik_matched": ctx.boolean("nik_matched"),
        "head_sex": ctx.enum("head_sex", V.SEX_CODES, "invalid_sex", "Int64"),
        "head_birth_date": ctx.date("head_birth_date"),
    }
    for column in ("occupation", "education", "home_ownership", "roof_type", "wall_type", "floor_type",
                   "lighting_source", "cooking_fuel", "drinking_water", "toilet_facility", "targeting"):
        out[column] = ctx.label(column)
    out["has_savings"] = ctx.boolean("has_savings")
    for flag in P3KE_FLAGS:
        out[flag] = ctx.boolean(flag)
    out["stunting_risk"] = ctx.boolean("stunting_risk")
    out["n_members"] = ctx.in_range("n_members", n_members, 1, 50)
    return pd.DataFrame(out, index=ctx.raw.index)


def parse_village_scorecard(ctx: Context) -> pd.DataFrame:
    """Village convergence scorecard -> one row per village x quarter."""
    ctx.require()
    village_code = ctx.region_code("village_code", "village")
    out = {
        "village_code": village_code,
        "village_name": ctx.text("village_name"),
        "year": ctx.year(),
        "quarter": ctx.quarter(),
        "rembuk_held": ctx.boolean("rembuk_held"),
        "kpm_active": ctx.boolean("kpm_active"),
    }
    for column in ("n_posyandu", "n_posyandu_active", "n_target_households", "n_reached_kia",
                   "n_reached_nutrition", "n_reached_wash", "n_reached_social", "n_reached_paud"):
        out[column] = ctx.in_range(column, ctx.integer(column, amount=True), 0, 1_000_000)
    out["dana_desa_stunting_rp"] = ctx.in_range(
        "dana_desa_stunting_rp", ctx.integer("dana_desa_stunting_rp", amount=True), 0, 10**13)
    out["kpm_id"] = token_with_scope(ctx, "kpm", ctx.cell("kpm_name"), village_code)
    return pd.DataFrame(out, index=ctx.raw.index)


def parse_aksi_reports(ctx: Context) -> pd.DataFrame:
    """Eight convergence actions -> one row per regency x year x action."""
    ctx.require()
    action_text = ctx.text("action_no").str.upper().str.replace(r"^AKSI[ \t]*(KE)?[ \t]*-?[ \t]*", "", regex=True)
    action, bad = V.parse_int(action_text)
    bad = bad | (action.notna() & ~action.between(1, 8)).astype(bool)
    ctx.reject_bad(bad, "action_no", "invalid_action", "action must be 1-8")
    return pd.DataFrame({
        "regency_code": ctx.region_code("regency_code", "regency"),
        "regency_name": ctx.text("regency_name"),
        "year": ctx.year(),
        "action_no": action.mask(bad),
        "action_name": ctx.label("action_name"),
        "status": ctx.enum("status", AKSI_STATUS, "invalid_status"),
        "n_evidence": ctx.in_range("n_evidence", ctx.integer("n_evidence"), 0, 10_000),
        "evidence_docs": ctx.label("evidence_docs"),
        "completed_on": ctx.date("completed_on"),
        "grade": ctx.text("grade").str.upper(),
        "score": ctx.in_range("score", ctx.decimal("score"), 0, 100),
        "category": ctx.label("category").str.title(),
        "officer_id": ctx.pseudonymiser.token("officer", ctx.cell("officer_name")),
    }, index=ctx.raw.index)


def parse_lokus_villages(ctx: Context) -> pd.DataFrame:
    """Priority (lokus) villages -> one row per regency x year x village."""
    ctx.require()
    regency_code = ctx.region_code("regency_code", "regency")
    village_code = ctx.region_code("village_code", "village")
    outside = (village_code.notna() & regency_code.notna()
               & village_code.str.slice(0, 5).ne(regency_code)).astype(bool)
    ctx.reject(outside, "village_code", "region_mismatch",
               "village " + village_code.fillna("") + " is not in regency " + regency_code.fillna(""))
    return pd.DataFrame({
        "year": ctx.year(),
        "regency_code": regency_code,
        "regency_name": ctx.text("regency_name"),
        "district_name": ctx.text("district_name"),
        "village_name": ctx.text("village_name"),
        "village_code": village_code,
        "decree_no": ctx.text("decree_no"),
    }, index=ctx.raw.index)


def parse_survey_figures(ctx: Context) -> pd.DataFrame:
    """Survey and statistics figures (SSGI/SKI, BPS) -> one row per regency (or the province, as
    published: ``Kode Kab/Kota`` holds the province code, e.g. ``36``) x year. A population or
    under-five estimate of 0 or less is refused: it is a denominator."""
    ctx.require()
    out = {
        "regency_code": ctx.region_code("regency_code", ("regency", "province")),
        "regency_name": ctx.text("regency_name"),
        "year": ctx.year(),
    }
    for column in ("stunting_ssgi_pct", "stunting_ski_pct", "extreme_poverty_bps_pct"):
        out[column] = ctx.in_range(column, ctx.decimal(column), 0, 100)
    for column in ("population", "balita_estimate"):
        out[column] = ctx.in_range(column, ctx.integer(column, amount=True), 1, 10**9)
    return pd.DataFrame(out, index=ctx.raw.index)


def _village_code_lists(ctx: Context) -> pd.Series:
    """``Desa Sasaran``: codes separated by comma/semicolon/space, each checked against the master."""
    text = ctx.text("village_codes")
    items = text.str.split(r"[,; \t\r\n]+", regex=True).explode()
    items = items[items.notna() & items.ne("")]
    codes = normalise_codes(items.astype("str"))
    known = ctx.regions.validate_code(codes, "village")
    unknown = codes[~known].groupby(level=0).agg(", ".join)
    has_unknown = pd.Series(False, index=ctx.raw.index)
    has_unknown[unknown.index] = True
    detail = pd.Series("", index=ctx.raw.index, dtype="str")
    detail[unknown.index] = "codes not in the region master at level village: " + unknown.str.slice(0, 200)
    ctx.reject(has_unknown, "village_codes", "unknown_region_code", detail)
    joined = codes.groupby(level=0).agg(",".join)
    return joined.reindex(ctx.raw.index).astype("str")


def parse_opd_programmes(ctx: Context) -> pd.DataFrame:
    """Provincial OPD programme/activity reports -> one row per OPD x quarter x activity."""
    ctx.require()
    return pd.DataFrame({
        "opd_code": ctx.text("opd_code").str.upper(),
        "opd_name": ctx.text("opd_name"),
        "year": ctx.year(),
        "quarter": ctx.quarter(),
        "programme": ctx.label("programme"),
        "activity": ctx.label("activity"),
        "intervention_type": ctx.enum("intervention_type", INTERVENTION_TYPE),
        "regency_code": ctx.region_code("regency_code", ("province", "regency")),
        "village_codes": _village_code_lists(ctx),
        "budget_rp": ctx.in_range("budget_rp", ctx.integer("budget_rp", amount=True), 0, 10**14),
        "realisation_rp": ctx.in_range("realisation_rp", ctx.integer("realisation_rp", amount=True), 0, 10**14),
        "output_target": ctx.decimal("output_target"),
        "output_unit": ctx.label("output_unit"),
        "output_achieved": ctx.decimal("output_achieved"),
        "contact_id": ctx.pseudonymiser.token("contact", ctx.cell("contact_name")),
    }, index=ctx.raw.index)


STREAM_PARSERS = {
    "child_measurements": parse_child_measurements,
    "households": parse_households,
    "village_scorecard": parse_village_scorecard,
    "aksi_reports": parse_aksi_reports,
    "lokus_villages": parse_lokus_villages,
    "survey_figures": parse_survey_figures,
    "opd_programmes": parse_opd_programmes,
}
