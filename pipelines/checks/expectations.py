"""The Great Expectations outcome of every submission landed in this run, as an asset check."""

import json
from collections import Counter

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    MetadataValue,
    asset_check,
)

from pipelines import tables
from pipelines.partitions import MONTHLY
from pipelines.resources import WarehouseResource


@asset_check(asset=tables.key("raw.submission_validation"), name="submissions_meet_expectations", blocking=False, partitions_def=MONTHLY)
def submissions_meet_expectations(context: AssetCheckExecutionContext, warehouse: WarehouseResource):
    """WARN: submissions landed in this run whose Great Expectations suite failed, with the failed
    expectations (names, columns and counts only, never values)."""
    with warehouse.connect() as con:
        rows = con.execute(
            "select v.stream, s.file_name, v.n_rows, v.failed_expectations from raw.submission_validation v "
            "join raw.submissions s using (submission_id) where v.run_id = ? and not v.success order by 1, 2",
            [context.run.run_id],
        ).fetchall()
        n_validated = con.execute(
            "select count(*) from raw.submission_validation where run_id = ?", [context.run.run_id]
        ).fetchall()[0][0]
    by_expectation: Counter = Counter()
    for stream, _, _, failed in rows:
        for item in json.loads(failed or "[]"):
            by_expectation[(stream, item.get("check") or item.get("expectation"), item.get("column"))] += 1
    table = "\n".join(
        f"| {s} | {c} | {col or ''} | {n} |" for (s, c, col), n in by_expectation.most_common(30)
    )
    return AssetCheckResult(
        passed=not rows,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "validated_this_run": int(n_validated),
            "failed_submissions": len(rows),
            "failed_expectations": MetadataValue.md(
                "| stream | expectation | column | submissions |\n|---|---|---|---|\n" + table if table else "none"
            ),
            "examples": MetadataValue.md("\n".join(f"- {s}/{f} ({n} rows)" for s, f, n, _ in rows[:15]) or "none"),
        },
    )
