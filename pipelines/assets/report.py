"""The per-run quality report: HTML under warehouse/reports/, a Markdown summary in the UI."""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    DagsterEventType,
    MaterializeResult,
    MetadataValue,
    asset,
)

from pipelines.resources import WarehouseResource
from pipelines.settings import WAREHOUSE_POOL

REPORT_KEY = AssetKey(["reports", "quality_report"])


def _check_results(context: AssetExecutionContext) -> list[dict]:
    """Check evaluations recorded so far in this run (the report runs after the marts)."""
    # This run's events only (not the instance's latest N across every run).
    entries = context.instance.all_logs(context.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
    out = []
    for entry in entries:
        ev = entry.dagster_event.event_specific_data
        out.append({
            "asset": "/".join(ev.asset_key.path),
            "check": ev.check_name,
            "passed": ev.passed,
            "severity": ev.severity.value,
            "description": ev.description or "",
            "metadata": {k: getattr(v, "value", v) for k, v in (ev.metadata or {}).items()
                         if k not in {"query", "examples", "submissions"}},
        })
    return out


def build_report_asset(upstream: list[AssetKey]) -> AssetsDefinition:
    @asset(key=REPORT_KEY, deps=sorted(upstream), group_name="reports", kinds={"html"}, pool=WAREHOUSE_POOL)
    def quality_report(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        """Data-quality report of the run (warehouse/reports/quality_<run>.html and latest.html):
        check outcomes, quarantine by reason and submitter, reconciliation, HAZ distribution per
        regency against the WHO standard normal, terminal-digit histograms."""
        from pipelines.reports import build_quality_report

        out_dir = warehouse.published_path.parent / "reports"
        with warehouse.connect() as con:
            result = build_quality_report(con, out_dir, context.run_id, _check_results(context))
        return MaterializeResult(
            metadata={
                "report": MetadataValue.path(str(result.html_path)),
                "latest": MetadataValue.path(str(out_dir / "latest.html")),
                "summary": MetadataValue.md(result.markdown),
            }
        )

    return quality_report
