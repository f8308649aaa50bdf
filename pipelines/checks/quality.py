"""Quality gates in Python: one property per check. ERROR checks are blocking (they stop the
publish); WARN checks advise. Thresholds live in :data:`pipelines.settings.QUALITY`."""


from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    MetadataValue,
    asset_check,
)

from pipelines import tables
from pipelines.partitions import MONTHLY, context_months
from pipelines.periods import covering_filter_sql, period_filter_sql
from pipelines.resources import WarehouseResource
from pipelines.settings import QUALITY, SQL_DIR

SUBMISSIONS = tables.key("raw.submissions")
STG_CHILD = tables.key("staging.stg_child_measurements")
SUPERSEDED = tables.key("quarantine.superseded_child_measurements")
DATA_QUALITY = tables.key("marts.fct_growth_data_quality")
COMPLETENESS = tables.key("marts.mart_submission_completeness")
FCT_CHILD = tables.key("marts.fct_child_measurement")


# The latest-version rule has one owner, the staging model; this check runs its SELECT on raw
# directly (it gates ingestion, before the model is rebuilt).
STG_SUBMISSIONS_SQL = (SQL_DIR / "staging" / "stg_submissions.sql").read_text(encoding="utf-8").strip().rstrip(";")


def _rows(warehouse: WarehouseResource, sql: str, params=None) -> list[tuple]:
    with warehouse.connect() as con:
        return con.execute(sql, params or []).fetchall()


@asset_check(asset=SUBMISSIONS, name="no_submission_mostly_unparseable", blocking=True, partitions_def=MONTHLY)
def no_submission_mostly_unparseable(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource
) -> AssetCheckResult:
    """ERROR: an accepted submission (latest version, of a period covering the run's months) with
    more than the set share of its rows rejected is probably a wrong or garbled export; publishing
    its village's figures would mislead. Its id is in the metadata: `konvergensi set-aside ID`
    lets the rest publish (docs/operations.md)."""
    scope = covering_filter_sql("period", context_months(context))
    with warehouse.connect() as con:
        tables.ensure(con, "raw.submission_exclusions")  # the rule reads operators' decisions
    rows = _rows(
        warehouse,
        f"""
        with stg_submissions as (
            {STG_SUBMISSIONS_SQL}
        )
        select stream, file_name, n_source_rows, n_rows_rejected, submission_id
        from stg_submissions
        where is_latest_version and {scope} and n_source_rows >= ? and n_rows_rejected > ? * n_source_rows
        order by stream, file_name
        """,
        [QUALITY["min_rows_for_rejected_share"], QUALITY["max_rejected_share"]],
    )
    return AssetCheckResult(
        passed=not rows,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "threshold_share": QUALITY["max_rejected_share"],
            "n_submissions": len(rows),
            "submissions": MetadataValue.md(
                "\n".join(f"- {s}/{f}: {r} of {n} rows rejected (submission `{i}`)" for s, f, n, r, i in rows[:20])
                or "none"
            ),
        },
    )


@asset_check(
    asset=SUPERSEDED, name="landed_rows_equal_staged_plus_superseded", blocking=True, partitions_def=MONTHLY
)
def landed_rows_equal_staged_plus_superseded(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource
) -> AssetCheckResult:
    """ERROR: every landed measurement row of the run's months is either staged or kept as
    superseded; none vanish."""
    scope = period_filter_sql("period", context_months(context))
    landed, staged, superseded = _rows(
        warehouse,
        "select (select count(*) from raw.child_measurements join raw.submissions using (submission_id) "
        f"where status = 'accepted' and {scope}), "
        f"(select count(*) from staging.stg_child_measurements where {scope}), "
        f"(select count(*) from quarantine.superseded_child_measurements where {scope})",
    )[0]
    return AssetCheckResult(
        passed=landed == staged + superseded,
        severity=AssetCheckSeverity.ERROR,
        metadata={"landed": landed, "staged": staged, "superseded": superseded},
    )


@asset_check(asset=DATA_QUALITY, name="height_digit_preference_acceptable", blocking=False)
def height_digit_preference_acceptable(warehouse: WarehouseResource) -> AssetCheckResult:
    """WARN: too many villages round heights to whole or half centimetres (WHO digit preference)."""
    n, bad = _rows(
        warehouse,
        "select count(*), count(*) filter (where dps_height > ?) from marts.fct_growth_data_quality "
        "where unit_level = 'village'",
        [QUALITY["dps_problem_score"]],
    )[0]
    pct = 100 * bad / n if n else 0.0
    return AssetCheckResult(
        passed=pct <= QUALITY["max_villages_with_digit_preference_pct"],
        severity=AssetCheckSeverity.WARN,
        metadata={"villages": n, "villages_over_score": bad, "pct": round(pct, 2),
                  "limit_pct": QUALITY["max_villages_with_digit_preference_pct"]},
    )


@asset_check(asset=FCT_CHILD, name="haz_sd_per_regency_plausible", blocking=False, partitions_def=MONTHLY)
def haz_sd_per_regency_plausible(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource
) -> AssetCheckResult:
    """WARN: the SD of unflagged HAZ of a regency in the latest month of the run is outside the
    plausible band."""
    low, high = QUALITY["haz_sd_band"]
    scope = period_filter_sql("period", context_months(context))
    rows = _rows(
        warehouse,
        f"""
        with latest as (select max(period) as period from marts.fct_child_measurement where {scope})
        select left(village_code, 5) as regency_code, round(stddev_samp(haz), 3) as sd, count(*) as n
        from marts.fct_child_measurement, latest
        where fct_child_measurement.period = latest.period and not flag_haz and haz is not null
        group by 1 order by 1
        """,
    )
    outside = [(r, sd) for r, sd, n in rows if n >= 30 and sd is not None and not low <= sd <= high]
    return AssetCheckResult(
        passed=not outside,
        severity=AssetCheckSeverity.WARN,
        metadata={"band": f"{low}-{high}", "sd_by_regency": MetadataValue.json({r: sd for r, sd, _ in rows}),
                  "outside": MetadataValue.json(dict(outside))},
    )


@asset_check(asset=COMPLETENESS, name="submissions_on_time", blocking=False)
def submissions_on_time(warehouse: WarehouseResource) -> AssetCheckResult:
    """WARN: share of submitted reports that arrived after their deadline."""
    n, late = _rows(
        warehouse,
        "select count(*) filter (where is_submitted), count(*) filter (where submission_status = 'late') "
        "from marts.mart_submission_completeness",
    )[0]
    pct = 100 * late / n if n else 0.0
    return AssetCheckResult(
        passed=pct <= QUALITY["max_late_pct"],
        severity=AssetCheckSeverity.WARN,
        metadata={"submitted": n, "late": late, "pct_late": round(pct, 2), "limit_pct": QUALITY["max_late_pct"]},
    )


QUALITY_CHECKS = [
    no_submission_mostly_unparseable,
    landed_rows_equal_staged_plus_superseded,
    height_digit_preference_acceptable,
    haz_sd_per_regency_plausible,
    submissions_on_time,
]
