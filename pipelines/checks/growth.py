"""Growth checks: the export's own z-scores against ours (advisory)."""


from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, asset_check

from pipelines import tables
from pipelines.partitions import MONTHLY, context_months
from pipelines.periods import period_filter_sql
from pipelines.resources import WarehouseResource

FCT_CHILD_MEASUREMENT = tables.key("marts.fct_child_measurement")
# e-PPGBM rounds to 2 decimals: more than 0.05 apart means a different computation, not rounding. The
# export is compared with our unrounded z: between two 2-decimal values a gap of exactly 0.05 would fall
# on either side of the tolerance by floating-point noise.
EXPORT_TOLERANCE = 0.05
# Share of rows allowed to disagree before the check warns.
MAX_DISAGREEING_PCT = 5.0

DISAGREEMENT_SQL = """
select
    count(*) filter (where haz_export is not null and haz is not null) as n_haz,
    count(*) filter (where abs(haz_unrounded - haz_export) > {tolerance}) as haz_disagree,
    count(*) filter (where waz_export is not null and waz is not null) as n_waz,
    count(*) filter (where abs(waz_unrounded - waz_export) > {tolerance}) as waz_disagree,
    count(*) filter (where whz_export is not null and whz is not null) as n_whz,
    count(*) filter (where abs(whz_unrounded - whz_export) > {tolerance}) as whz_disagree,
    count(*) filter (where haz_export is not null and haz is null) as export_only_haz
from marts.fct_child_measurement
where {scope}
"""


@asset_check(
    asset=FCT_CHILD_MEASUREMENT, name="export_zscores_agree_with_recomputed", blocking=False, partitions_def=MONTHLY
)
def export_zscores_agree_with_recomputed(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource
) -> AssetCheckResult:
    """How many exported ZS values (ZS TB/U, ZS BB/U, ZS BB/TB) differ from the recomputed WHO
    z-score (unrounded) by more than 0.05. We never use the exported values; this measures how far
    the source's own calculator can be trusted."""
    with warehouse.connect() as con:
        row = con.execute(DISAGREEMENT_SQL.format(
            tolerance=EXPORT_TOLERANCE, scope=period_filter_sql("period", context_months(context))
        )).fetchall()[0]
    n_haz, haz_d, n_waz, waz_d, n_whz, whz_d, export_only = (int(v) for v in row)
    shares = [100 * d / n for d, n in ((haz_d, n_haz), (waz_d, n_waz), (whz_d, n_whz)) if n]
    return AssetCheckResult(
        passed=all(s <= MAX_DISAGREEING_PCT for s in shares),
        severity=AssetCheckSeverity.WARN,
        metadata={
            "haz_compared": n_haz, "haz_disagree": haz_d,
            "waz_compared": n_waz, "waz_disagree": waz_d,
            "whz_compared": n_whz, "whz_disagree": whz_d,
            "export_scored_where_who_gives_none": export_only,
            "tolerance": EXPORT_TOLERANCE,
        },
    )


WHO_LMS = tables.key("reference.who_growth_lms")
# lfa and wfa by day 0-1856, wfl 45-110 cm and wfh 65-120 cm by 0.1 cm, for both sexes.
EXPECTED_WHO_ROWS = {"lfa": 1857, "wfa": 1857, "wfl": 651, "wfh": 551}


@asset_check(asset=WHO_LMS, name="who_tables_complete", blocking=True)
def who_tables_complete(warehouse: WarehouseResource) -> AssetCheckResult:
    """ERROR: the WHO 2006 LMS reference is present for all four indicators and both sexes; without
    it no z-score, and so no prevalence, can be trusted."""
    with warehouse.connect() as con:
        found = {
            (ind, int(sex)): n
            for ind, sex, n in con.execute(
                "select indicator, sex, count(*) from reference.who_growth_lms group by 1, 2"
            ).fetchall()
        }
    missing = [
        f"{ind}/sex {sex}: {found.get((ind, sex), 0)} of {n} rows"
        for ind, n in EXPECTED_WHO_ROWS.items()
        for sex in (1, 2)
        if found.get((ind, sex), 0) < n
    ]
    return AssetCheckResult(
        passed=not missing,
        severity=AssetCheckSeverity.ERROR,
        metadata={"rows": sum(found.values()), "incomplete": "; ".join(missing) or "none"},
    )
