"""Human-readable reports built from the warehouse (pure code, no Dagster imports)."""

from pipelines.reports.quality_report import ReportResult, build_quality_report

__all__ = ["ReportResult", "build_quality_report"]
