"""Nothing disappears: every source row of every submission is accounted for, and every value the
parser nulled is recorded."""


from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    MetadataValue,
    asset_check,
)

from pipelines import tables
from pipelines.checks.quality import STG_SUBMISSIONS_SQL
from pipelines.partitions import MONTHLY, context_months
from pipelines.periods import covering_filter_sql
from pipelines.resources import WarehouseResource

# Rows read from a file = rows landed in raw.<stream> + rows quarantined (distinct row numbers);
# values the parser nulled in landed rows = rows of quarantine.rejected_values for the submission.
# (A submission landed before values were counted has n_values_nulled null: nothing to match.)
# A submission an operator set aside (raw.submission_exclusions, latest decision in force) counts
# as accounted for: its rows stay in raw, none reach staging, and it must not hold the publish.
RECONCILE_SQL = """
with recorded as (
    select submission_id, count(*) as n_values_recorded
    from quarantine.rejected_values
    group by submission_id
)
select submission_id, stream, file_name, n_source_rows, n_rows_accepted, n_rows_rejected, n_values_nulled,
    coalesce(n_values_recorded, 0) as n_values_recorded
from raw.submissions
left join recorded using (submission_id)
where status = 'accepted' and {scope}
    and submission_id not in ({set_aside})
    and (n_source_rows <> n_rows_accepted + n_rows_rejected
         or coalesce(n_values_nulled, 0) <> coalesce(n_values_recorded, 0))
order by submission_id
"""
# The set-aside rule has one owner, the staging model; run its SELECT on raw directly.
SET_ASIDE_SQL = f"select submission_id from ({STG_SUBMISSIONS_SQL}) where is_set_aside"
TOTALS_SQL = """
select coalesce(sum(n_source_rows), 0), coalesce(sum(n_rows_accepted), 0), coalesce(sum(n_rows_rejected), 0),
    coalesce(sum(n_values_nulled), 0),
    (select count(*) from quarantine.rejected_values v where v.submission_id in (
        select submission_id from raw.submissions where status = 'accepted' and {scope}))
from raw.submissions where status = 'accepted' and {scope}
"""


@asset_check(asset=tables.key("raw.submissions"), name="every_source_row_accounted_for", blocking=True, partitions_def=MONTHLY)
def every_source_row_accounted_for(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource
) -> AssetCheckResult:
    """For every accepted submission of a period covering the run's months, rows read = rows
    landed + rows quarantined, and every value nulled in a landed row is recorded in
    quarantine.rejected_values."""
    scope = covering_filter_sql("period", context_months(context))
    with warehouse.connect() as con:
        tables.ensure(con, "raw.submission_exclusions")
        bad = con.execute(RECONCILE_SQL.format(scope=scope, set_aside=SET_ASIDE_SQL)).df()
        n_set_aside = len(con.execute(SET_ASIDE_SQL).fetchall())
        totals = con.execute(TOTALS_SQL.format(scope=scope)).fetchall()[0]
    return AssetCheckResult(
        passed=bad.empty,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "source_rows": int(totals[0]),
            "rows_landed": int(totals[1]),
            "rows_quarantined": int(totals[2]),
            "values_nulled": int(totals[3]),
            "values_recorded": int(totals[4]),
            "unreconciled_submissions": len(bad),
            "set_aside_submissions": n_set_aside,
            "examples": MetadataValue.md(bad.head(10).to_csv(index=False)) if len(bad) else "none",
        },
    )
