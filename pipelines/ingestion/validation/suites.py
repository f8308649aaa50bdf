"""Great Expectations 1.x suites, one per submission format, built in code.

Each suite describes the parsed, pseudonymised rows of one stream (the ``rows`` frame of
:class:`pipelines.parsing.parse.ParseResult`), not the files as sent. Every expectation carries
``meta["check"]``: a name for the property it asserts (``weight_kg_in_who_cleaning_range``).

Several properties span two columns (age at measurement, realisation against budget). They are
asserted on helper columns that :func:`derive_columns` adds before validation, so that every
row-level expectation is a single-column map expectation whose failures GX can attribute to
``(submission_id, row_number)``.

What the suites deliberately do NOT expect: uniqueness of a grain key such as
(child_id, measured_on). Duplicates are legitimate in submissions and are resolved downstream (the
loader keeps the last row of a duplicate group), and a uniqueness expectation over a concatenation
of many submissions would mix submissions anyway. Nor measurement position against age (length
below 24 months): about 5 % of clean e-PPGBM rows disagree, and the growth code applies WHO's
0.7 cm rule instead.

Many hard ranges below are also enforced by the parsers, which null an offending value (recorded
in quarantine.rejected_values) or reject the row when who, where or when is unusable; on accepted
rows these expectations are the recorded contract and catch parser regressions. The ``mostly``
expectations are plausibility checks the parser does not make. A value the parser may null is
expected present ``mostly`` (``<column>_recorded``), never always: weight, length/height, welfare
decile, budget (issue 16: a bad value loses only itself, so a landed row may lack one).

``great_expectations`` takes seconds to import: it is imported inside functions only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from pipelines.parsing.layouts import STREAMS
from pipelines.parsing.values import arrow_values

if TYPE_CHECKING:  # pragma: no cover
    from great_expectations.core import ExpectationSuite

TOKEN_REGEX = r"^[0-9a-f]{32}$"  # keyed HMAC tokens of pipelines.parsing.pseudonym
# Kemendagri's code format, any province (which codes exist is checked against the region master).
VILLAGE_CODE_REGEX = r"^\d{2}\.\d{2}\.\d{2}\.[12]\d{3}$"  # Kemendagri desa (2xxx) / kelurahan (1xxx)
REGENCY_CODE_REGEX = r"^\d{2}\.\d{2}$"
PROVINCE_OR_REGENCY_REGEX = r"^\d{2}(?:\.\d{2})?$"
VILLAGE_CODE_LIST_REGEX = r"^\d{2}\.\d{2}\.\d{2}\.[12]\d{3}(?:,\d{2}\.\d{2}\.\d{2}\.[12]\d{3})*$"
YEAR_RANGE = (2015, 2035)
MAX_AGE_DAYS = 1856  # WHO growth standards end at 1856 days (60 completed months)
# Share of a submission's non-null values a plausibility check wants in range. ``mostly`` is judged
# per submission (often 5-40 rows), so 0.99 would fail a submission on one odd row: children
# followed monthly age past 1856 days in clean data, and one of them is 5 % of a 20-row file.
PLAUSIBLE = 0.9
AKSI_STATUSES = ("not_started", "in_progress", "uploaded", "verified")
INTERVENTION_TYPES = ("specific", "sensitive")
P3KE_FLAGS = ("receives_bpnt", "receives_bpum", "receives_bst", "receives_pkh", "receives_sembako")

# Helper columns added by derive_columns, per stream.
DERIVED_COLUMNS = {
    "child_measurements": ("age_days",),
    "village_scorecard": ("posyandu_active_share",),
    "lokus_villages": ("village_in_regency",),
    "survey_figures": ("balita_share",),
    "opd_programmes": ("realisation_ratio",),
}


def _gxe():
    import great_expectations.expectations as gxe  # noqa: PLC0415 - slow import, on first use only

    return gxe


def _meta(check: str) -> dict[str, Any]:
    return {"check": check}


def _not_null(column: str, check: str | None = None, mostly: float | None = None):
    extra = {"mostly": mostly} if mostly is not None else {}
    return _gxe().ExpectColumnValuesToNotBeNull(
        column=column, meta=_meta(check or f"{column}_not_null"), **extra)


def _regex(column: str, regex: str, check: str):
    return _gxe().ExpectColumnValuesToMatchRegex(column=column, regex=regex, meta=_meta(check))


def _token(column: str):
    return _regex(column, TOKEN_REGEX, f"{column}_is_token")


def _between(column: str, low: float | None, high: float | None, check: str, mostly: float | None = None):
    extra = {"mostly": mostly} if mostly is not None else {}
    return _gxe().ExpectColumnValuesToBeBetween(
        column=column, min_value=low, max_value=high, meta=_meta(check), **extra)


def _in_set(column: str, values: list, check: str, mostly: float | None = None):
    extra = {"mostly": mostly} if mostly is not None else {}
    return _gxe().ExpectColumnValuesToBeInSet(column=column, value_set=list(values), meta=_meta(check), **extra)


def _columns_present(columns: list[str]):
    return _gxe().ExpectTableColumnsToMatchSet(
        column_set=sorted(columns), exact_match=False, meta=_meta("parsed_columns_present"))


def _year(column: str = "year"):
    return [_not_null(column), _between(column, *YEAR_RANGE, f"{column}_in_{YEAR_RANGE[0]}_{YEAR_RANGE[1]}")]


def _child_measurements() -> list:
    return [
        _not_null("child_id"), _token("child_id"), _token("parent_id"), _token("address_id"),
        _not_null("sex"), _in_set("sex", [1, 2], "sex_is_1_or_2"),
        _not_null("birth_date"), _not_null("measured_on"),
        _between("age_days", 0, MAX_AGE_DAYS, "age_at_measurement_0_to_1856_days", mostly=PLAUSIBLE),
        _not_null("weight_kg", "weight_kg_recorded", mostly=PLAUSIBLE),
        _between("weight_kg", 0.9, 58, "weight_kg_in_who_cleaning_range"),
        _not_null("lenhei_cm", "lenhei_cm_recorded", mostly=PLAUSIBLE),
        _between("lenhei_cm", 38, 150, "lenhei_cm_in_who_cleaning_range"),
        _in_set("measure", ["l", "h"], "measure_is_length_or_height", mostly=0.95),
        _between("muac_cm", 5, 30, "muac_cm_plausible", mostly=PLAUSIBLE),
        _between("birth_weight_kg", 0.5, 6, "birth_weight_kg_plausible", mostly=PLAUSIBLE),
        _between("birth_length_cm", 25, 65, "birth_length_cm_plausible", mostly=PLAUSIBLE),
        *[_between(c, -6, 6, f"{c}_within_6_sd", mostly=PLAUSIBLE) for c in ("haz_export", "waz_export", "whz_export")],
        _in_set("weight_gain_code", ["N", "T", "O", "B"], "weight_gain_code_known"),
        _not_null("village_code"), _regex("village_code", VILLAGE_CODE_REGEX, "village_code_is_kemendagri"),
    ]


def _households() -> list:
    return [
        _not_null("household_id"), _token("household_id"), _token("head_id"), _token("address_id"),
        _not_null("village_code"), _regex("village_code", VILLAGE_CODE_REGEX, "village_code_is_kemendagri"),
        _not_null("welfare_decile", "welfare_decile_recorded", mostly=PLAUSIBLE),
        _in_set("welfare_decile", [1, 2, 3, 4], "welfare_decile_is_1_to_4"),
        _in_set("head_sex", [1, 2], "head_sex_is_1_or_2"),
        *[_in_set(f, [True, False], f"{f}_is_boolean") for f in P3KE_FLAGS],
        *[_not_null(f, f"{f}_recorded", mostly=0.95) for f in P3KE_FLAGS],
        _between("n_members", 1, 30, "n_members_1_to_30", mostly=0.95),
    ]


def _village_scorecard() -> list:
    counts = ("n_posyandu", "n_posyandu_active", "n_target_households", "n_reached_kia",
              "n_reached_nutrition", "n_reached_wash", "n_reached_social", "n_reached_paud")
    return [
        _not_null("village_code"), _regex("village_code", VILLAGE_CODE_REGEX, "village_code_is_kemendagri"),
        *_year(), _not_null("quarter"), _in_set("quarter", [1, 2, 3, 4], "quarter_is_1_to_4"),
        *[_between(c, 0, None, f"{c}_non_negative") for c in counts],
        _between("dana_desa_stunting_rp", 0, None, "dana_desa_stunting_rp_non_negative"),
        _between("posyandu_active_share", 0, 1, "active_posyandu_at_most_posyandu"),
        _token("kpm_id"),
    ]


def _aksi_reports() -> list:
    return [
        _not_null("regency_code"), _regex("regency_code", REGENCY_CODE_REGEX, "regency_code_is_kemendagri"),
        *_year(), _not_null("action_no"), _in_set("action_no", list(range(1, 9)), "action_no_is_1_to_8"),
        _not_null("status"), _in_set("status", AKSI_STATUSES, "status_is_normalised"),
        _between("score", 0, 100, "score_0_to_100"),
        _between("n_evidence", 0, None, "n_evidence_non_negative"),
        _token("officer_id"),
    ]


def _lokus_villages() -> list:
    return [
        *_year(),
        _not_null("regency_code"), _regex("regency_code", REGENCY_CODE_REGEX, "regency_code_is_kemendagri"),
        _not_null("village_code"), _regex("village_code", VILLAGE_CODE_REGEX, "village_code_is_kemendagri"),
        _in_set("village_in_regency", [True], "village_code_inside_regency"),
    ]


def _survey_figures() -> list:
    pct = ("stunting_ssgi_pct", "stunting_ski_pct", "extreme_poverty_bps_pct")
    return [
        _not_null("regency_code"),
        _regex("regency_code", PROVINCE_OR_REGENCY_REGEX, "regency_or_province_code_is_kemendagri"),
        *_year(),
        *[_between(c, 0, 100, f"{c}_0_to_100") for c in pct],
        _between("population", 1, None, "population_positive"),
        _between("balita_estimate", 1, None, "balita_estimate_positive"),
        _between("balita_share", 0, 0.25, "balita_at_most_quarter_of_population"),
    ]


def _opd_programmes() -> list:
    return [
        _not_null("opd_code"), *_year(), _not_null("quarter"),
        _in_set("quarter", [1, 2, 3, 4], "quarter_is_1_to_4"),
        _not_null("activity"),
        _in_set("intervention_type", INTERVENTION_TYPES, "intervention_type_specific_or_sensitive"),
        _regex("regency_code", PROVINCE_OR_REGENCY_REGEX, "regency_code_is_kemendagri"),
        _regex("village_codes", VILLAGE_CODE_LIST_REGEX, "village_codes_are_kemendagri"),
        _not_null("budget_rp", "budget_rp_recorded", mostly=PLAUSIBLE),
        _between("budget_rp", 0, None, "budget_rp_non_negative"),
        _between("realisation_rp", 0, None, "realisation_rp_non_negative"),
        _between("realisation_ratio", 0, 1.5, "realisation_at_most_150pct_of_budget", mostly=0.95),
        _between("output_target", 0, None, "output_target_non_negative"),
        _between("output_achieved", 0, None, "output_achieved_non_negative"),
        _token("contact_id"),
    ]


_BUILDERS = {
    "child_measurements": _child_measurements,
    "households": _households,
    "village_scorecard": _village_scorecard,
    "aksi_reports": _aksi_reports,
    "lokus_villages": _lokus_villages,
    "survey_figures": _survey_figures,
    "opd_programmes": _opd_programmes,
}
assert set(_BUILDERS) == set(STREAMS)


def suite_name(stream: str) -> str:
    """Name of the suite of ``stream`` (one suite per submission format)."""
    return f"{stream}_submission"


def build_suite(stream: str) -> ExpectationSuite:
    """A new GX 1.x ExpectationSuite for the parsed rows of ``stream``, not attached to any context.

    The suite also expects every column it reads to be present (``parsed_columns_present``), so a
    frame missing a column fails that one table-level expectation rather than only erroring.

    Args:
        stream: one of :data:`pipelines.parsing.layouts.STREAMS`.

    Returns:
        The suite; every expectation has ``meta["check"]`` naming the property it asserts.

    Raises:
        ValueError: unknown stream.
    """
    if stream not in _BUILDERS:
        raise ValueError(f"unknown stream {stream!r}")
    from great_expectations.core import ExpectationSuite  # noqa: PLC0415 - slow import

    expectations = _BUILDERS[stream]()
    columns = sorted({e.column for e in expectations if getattr(e, "column", None)})
    suite = ExpectationSuite(name=suite_name(stream), meta={"stream": stream})
    for expectation in [_columns_present(columns), *expectations]:
        suite.add_expectation(expectation)
    return suite


def suite_columns(stream: str) -> list[str]:
    """Columns the suite of ``stream`` reads (helper columns included), in first-use order."""
    seen: dict[str, None] = {}
    for expectation in _BUILDERS[stream]():
        seen.setdefault(expectation.column, None)
    return list(seen)


def _as_float(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").astype("float64").to_numpy()


def _ratio(numerator: pd.Series, denominator: pd.Series) -> np.ndarray:
    """numerator / denominator as float64: NaN when either is missing or both are 0, inf for x / 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return _as_float(numerator) / _as_float(denominator)


def _days(series: pd.Series) -> pd.Series:
    series = numpy_backed(series)
    return series if pd.api.types.is_datetime64_dtype(series.dtype) else pd.to_datetime(series, errors="coerce")


def numpy_backed(series: pd.Series) -> pd.Series:
    """The column in the numpy dtype GX's pandas engine handles fastest (same values, same index).

    GX fingerprints each batch by hashing every cell and runs its between/regex metrics
    vectorised only on numpy int/float/datetime/object columns: on arrow-backed text it loops in
    Python, and on nullable Int64 it calls a Python function per cell. Arrow dates become
    datetime64[s], arrow text becomes object (None for missing), nullable numbers become float64
    (NaN for missing; every amount here is far below 2**53). Booleans stay as they are.
    """
    dtype = series.dtype
    if isinstance(dtype, pd.ArrowDtype) and pa.types.is_temporal(dtype.pyarrow_dtype):
        values = arrow_values(series).cast(pa.timestamp("s")).to_numpy(zero_copy_only=False)
        return pd.Series(values, index=series.index)
    if isinstance(dtype, (pd.StringDtype, pd.ArrowDtype)):
        return pd.Series(arrow_values(series).to_numpy(zero_copy_only=False), index=series.index, dtype=object)
    if pd.api.types.is_bool_dtype(dtype):
        return series
    if isinstance(dtype, pd.api.extensions.ExtensionDtype) and pd.api.types.is_numeric_dtype(dtype):
        return pd.Series(series.to_numpy(dtype="float64", na_value=np.nan), index=series.index)
    return series


def derive_columns(stream: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Helper columns of the cross-column properties, added to a shallow copy of ``frame``.

    * child_measurements: ``age_days`` = measured_on - birth_date, in days.
    * village_scorecard: ``posyandu_active_share`` = n_posyandu_active / n_posyandu.
    * lokus_villages: ``village_in_regency`` (village code starts with the regency code).
    * survey_figures: ``balita_share`` = balita_estimate / population.
    * opd_programmes: ``realisation_ratio`` = realisation_rp / budget_rp.

    A column the helper needs but the frame lacks leaves the helper out; the suite's
    ``parsed_columns_present`` expectation then fails.
    """
    out = frame.copy(deep=False)

    def has(*columns: str) -> bool:
        return all(c in frame.columns for c in columns)

    if stream == "child_measurements" and has("birth_date", "measured_on"):
        out["age_days"] = (_days(frame["measured_on"]) - _days(frame["birth_date"])).dt.days.astype("Int64")
    elif stream == "village_scorecard" and has("n_posyandu", "n_posyandu_active"):
        out["posyandu_active_share"] = _ratio(frame["n_posyandu_active"], frame["n_posyandu"])
    elif stream == "lokus_villages" and has("village_code", "regency_code"):
        inside = frame["village_code"].str.slice(0, 5).eq(frame["regency_code"]).astype("boolean")
        out["village_in_regency"] = inside.where(frame["village_code"].notna() & frame["regency_code"].notna())
    elif stream == "survey_figures" and has("balita_estimate", "population"):
        out["balita_share"] = _ratio(frame["balita_estimate"], frame["population"])
    elif stream == "opd_programmes" and has("realisation_rp", "budget_rp"):
        out["realisation_ratio"] = _ratio(frame["realisation_rp"], frame["budget_rp"])
    return out
