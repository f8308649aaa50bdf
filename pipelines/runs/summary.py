"""What a run did, in the words a data engineer wants after `konvergensi run`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import duckdb

from pipelines.reports.not_landed import NotLanded


@dataclass
class RunSummary:
    success: bool
    run_id: str
    wall_seconds: float
    tables: list[tuple[str, int]] = field(default_factory=list)
    checks_passed: int = 0
    checks_failed: list[str] = field(default_factory=list)
    quarantined_rows: dict[str, int] = field(default_factory=dict)
    quarantined_files: int = 0
    nulled_values: dict[str, int] = field(default_factory=dict)  # reason -> values nulled, rows kept
    parser_warnings: dict[str, int] = field(default_factory=dict)  # code -> submissions warned
    failures: list[str] = field(default_factory=list)
    warehouse: str = ""
    not_landed: NotLanded = field(default_factory=NotLanded)
    publish: str = ""  # what became of the published file, and why when it was not replaced

    @classmethod
    def from_result(cls, result, defs, wall_seconds: float) -> RunSummary:
        summary = cls(success=result.success, run_id=result.run_id, wall_seconds=wall_seconds)
        for ev in result.get_asset_check_evaluations():
            name = f"{'.'.join(ev.asset_key.path)}:{ev.check_name}"
            if ev.passed:
                summary.checks_passed += 1
            else:
                summary.checks_failed.append(f"{name} ({ev.severity.value})")
        for ev in result.get_step_failure_events():
            err = ev.event_specific_data.error
            while err is not None and err.cause is not None:
                err = err.cause  # the user's exception, not Dagster's wrapper
            message = err.message.strip().splitlines()[0] if err else "failed"
            summary.failures.append(f"{ev.step_key}: {message}")
        if not result.success and not summary.failures:
            # Failed before any step (e.g. a resource that could not start: the warehouse
            # held by another run): report the run's own error.
            for ev in result.all_events:
                err = getattr(ev.event_specific_data, "error", None)
                while err is not None and err.cause is not None:
                    err = err.cause
                if err is not None:
                    summary.failures.append(f"run: {err.message.strip().splitlines()[0]}")
                    break
        summary.publish = summary._publish_outcome(result)
        summary._read_warehouse()
        return summary

    def _publish_outcome(self, result) -> str:
        """One line: published, unchanged, not selected, or not published and why. Dagster does not
        run the publish step when a blocking check or a step upstream failed, so no code of the
        step can say it; the run's own events do."""
        from pipelines.assets.publish import PUBLISH_KEY

        for ev in result.get_asset_materialization_events():
            if ev.asset_key == PUBLISH_KEY:
                meta = ev.materialization.metadata
                path = getattr(meta.get("published_path"), "value", "")
                if getattr(meta.get("unchanged"), "value", False):
                    return f"unchanged: {path} already holds this warehouse"
                return f"published {path}"
        selection = result.dagster_run.asset_selection  # empty or None: every asset of the job (nightly)
        if selection and PUBLISH_KEY not in selection:
            return "not selected in this run: the published file is as it was"
        errors = [c for c in self.checks_failed if c.endswith("(ERROR)")]
        if errors:
            why = f"{len(errors)} blocking check(s) failed: {', '.join(errors[:5])}"
        elif self.failures:
            why = f"a step failed: {self.failures[0]}"
        else:
            why = "the run stopped before it"
        return f"NOT published, BI keeps the previous file ({why})"

    def _read_warehouse(self) -> None:
        """Tables and what did not land, from the working file, which has every table and this
        run's refusals even when a blocking check stopped the publish; from the published file
        (marts and reference only) when another run owns the working file (even a read-only open
        would stop that run's writers)."""
        from pipelines.resources import WarehouseBusyError, WarehouseResource, acquire_run_lock

        warehouse = WarehouseResource(path=os.environ.get("KONVERGENSI_WAREHOUSE", ""))
        published, work = warehouse.published_path, warehouse.work_path
        self.warehouse = str(published if published.exists() else work)
        lock = None
        if work.exists():
            try:
                lock = acquire_run_lock(work.parent / ".run.lock", wait_s=0)
            except WarehouseBusyError:
                pass
        try:
            # The working file has every table (raw and quarantine are never published); the
            # published file only when another run holds the working one.
            source = work if lock is not None else published if published.exists() else None
            if source is not None:
                self._read_tables(source)
            if lock is not None:
                con = duckdb.connect(str(work), read_only=True)
                try:
                    self.not_landed = NotLanded.find(con, self.run_id)
                finally:
                    con.close()
        finally:
            if lock is not None:
                lock.close()

    def _read_tables(self, path) -> None:
        con = duckdb.connect(str(path), read_only=True)
        try:
            names = con.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_type = 'BASE TABLE' order by 1, 2"
            ).fetchall()
            for schema, table in names:
                n = con.execute(f'select count(*) from "{schema}"."{table}"').fetchall()[0][0]
                self.tables.append((f"{schema}.{table}", n))
            if ("quarantine", "rejected_rows") in names:
                self.quarantined_rows = dict(
                    con.execute(
                        "select reason_code, count(*) from quarantine.rejected_rows group by 1 order by 2 desc"
                    ).fetchall()
                )
            if ("quarantine", "rejected_files") in names:
                self.quarantined_files = con.execute("select count(*) from quarantine.rejected_files").fetchall()[0][0]
            if ("quarantine", "rejected_values") in names:
                self.nulled_values = dict(con.execute(
                    "select reason_code, count(*) from quarantine.rejected_values group by 1 order by 2 desc, 1"
                ).fetchall())
            if ("raw", "submission_warnings") in names:
                self.parser_warnings = dict(con.execute(
                    "select code, count(distinct submission_id) from raw.submission_warnings group by 1 order by 2 desc, 1"
                ).fetchall())
        finally:
            con.close()

    @property
    def n_errors(self) -> int:
        return sum(c.endswith("(ERROR)") for c in self.checks_failed)

    def render(self) -> str:
        lines = [
            f"run {self.run_id}: {'SUCCESS' if self.success else 'FAILED'} in {self.wall_seconds:.1f} s",
            f"warehouse: {self.warehouse}",
            *([f"publish: {self.publish}"] if self.publish else []),
            "tables:",
            *[f"  {name:<48} {n:>10,} rows" for name, n in self.tables],
            f"checks: {self.checks_passed} passed, {self.n_errors} failed (ERROR, blocking), "
            f"{len(self.checks_failed) - self.n_errors} warnings",
            *[f"  {'FAILED' if c.endswith('(ERROR)') else 'WARN  '} {c}" for c in self.checks_failed],
            *self._not_landed_lines(),
            f"quarantine: {sum(self.quarantined_rows.values()):,} row rejections, {self.quarantined_files} files",
            *[f"  {reason:<32} {n:>8,}" for reason, n in self.quarantined_rows.items()],
            f"values nulled, rows kept: {sum(self.nulled_values.values()):,}",
            *[f"  {reason:<32} {n:>8,}" for reason, n in self.nulled_values.items()],
        ]
        if self.parser_warnings:
            lines.append("parser warnings (submissions; raw.submission_warnings): " + ", ".join(
                f"{code} {n:,}" for code, n in self.parser_warnings.items()))
        if self.failures:
            lines += ["step failures:", *[f"  {f}" for f in self.failures]]
        return "\n".join(lines)

    def _not_landed_lines(self) -> list[str]:
        """Files refused and submissions landing under half their rows, by name (a WARN: the
        run still publishes and exits 0)."""
        if not self.not_landed:
            return []
        return [f"not landed (WARN, does not block): {self.not_landed.headline}",
                *[f"  {line}" for line in self.not_landed.lines()]]
