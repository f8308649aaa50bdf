"""Nothing disappears: every source row of every submission is accounted for."""


from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    MetadataValue,
    asset_check,
)

from pipelines import tables
from pipelines.partitions import MONTHLY, context_months
from pipelines.periods import covering_filter_sql
from pipelines.resources import WarehouseResource

# Rows read from a file = rows landed in raw.<stream> + rows quarantined (distinct row numbers).
RECONCILE_SQL = """
select submission_id, stream, file_name, n_source_rows, n_rows_accepted, n_rows_rejected
from raw.submissions
where status = 'accepted' and n_source_rows <> n_rows_accepted + n_rows_rejected and {scope}
order by submission_id
"""


@asset_check(asset=tables.key("raw.submissions"), name="every_source_row_accounted_for", blocking=True, partitions_def=MONTHLY)
def every_source_row_accounted_for(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource
) -> AssetCheckResult:
    """For every accepted submission of a period covering the run's months, rows read = rows
    landed + rows quarantined."""
    scope = covering_filter_sql("period", context_months(context))
    with warehouse.connect() as con:
        bad = con.execute(RECONCILE_SQL.format(scope=scope)).df()
        totals = con.execute(
            "select coalesce(sum(n_source_rows), 0), coalesce(sum(n_rows_accepted), 0), "
            f"coalesce(sum(n_rows_rejected), 0) from raw.submissions where status = 'accepted' and {scope}"
        ).fetchall()[0]
    return AssetCheckResult(
        passed=bad.empty,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "source_rows": int(totals[0]),
            "rows_landed": int(totals[1]),
            "rows_quarantined": int(totals[2]),
            "unreconciled_submissions": len(bad),
            "examples": MetadataValue.md(bad.head(10).to_csv(index=False)) if len(bad) else "none",
        },
    )
