"""What an ingestion did: per transport (:class:`IngestReport`) and per run (:class:`IngestionRun`,
what the Dagster asset turns into materialisations)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipelines import tables


@dataclass
class IngestReport:
    """One transport's pull: submissions landed, skipped, rejected, rows, and fetch errors."""

    landed: int = 0
    skipped_known: int = 0
    rejected_files: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    values_nulled: int = 0
    by_stream: dict[str, dict[str, int]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    # unnamed files whose rows told a period outside the run's months: "<stream>/<file> (<submitter>, <period>)"
    deferred: list[str] = field(default_factory=list)
    # landing files not read this run, "<transport>:<stream>/<file>: why": still being written or
    # changed while read (left for the next run), or deleted between the listing and the read
    not_ready: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    # landing files moved to <landing>/_archive/ after their rows committed (KONVERGENSI_LANDING_ARCHIVE)
    archived: int = 0

    def add(self, stream: str, key: str, n: int = 1) -> None:
        counts = self.by_stream.setdefault(
            stream, {"submissions": 0, "rows_accepted": 0, "rows_rejected": 0, "values_nulled": 0, "files_rejected": 0}
        )
        counts[key] += n

    def count(self, stream: str, counts) -> None:
        """One landed submission and its :class:`~pipelines.ingestion.batches.Counts`."""
        self.landed += 1
        self.rows_accepted += counts.accepted
        self.rows_rejected += counts.rejected
        self.values_nulled += counts.values_nulled
        self.add(stream, "submissions")
        self.add(stream, "rows_accepted", counts.accepted)
        self.add(stream, "rows_rejected", counts.rejected)
        self.add(stream, "values_nulled", counts.values_nulled)

    def summary(self) -> str:
        text = (f"landed {self.landed}, already known {self.skipped_known}, rejected files {self.rejected_files}, "
                f"rows accepted {self.rows_accepted}, rows rejected {self.rows_rejected}, "
                f"values nulled {self.values_nulled}")
        if self.deferred:
            text += (f"; {len(self.deferred)} unnamed file(s) left for a run covering the period their rows tell: "
                     f"{_some(self.deferred)}")
        if self.not_ready:
            text += (f"; {len(self.not_ready)} file(s) still being written or changed while read, left for the next "
                     f"run: {_some(self.not_ready)}")
        if self.vanished:
            text += f"; {len(self.vanished)} file(s) deleted before they were read: {_some(self.vanished)}"
        if self.archived:
            text += f"; {self.archived} landed file(s) archived"
        return text


def _some(lines: list[str], n: int = 5) -> str:
    return "; ".join(lines[:n]) + (f"; and {len(lines) - n} more" if len(lines) > n else "")


@dataclass
class IngestionRun:
    """One ingestion run over both transports, and the ingestion tables as it left them."""

    transports: dict[str, IngestReport]  # "portal", "landing": the transports configured
    errors: list[str]  # pulls that failed (a portal outage, a file that could not be fetched)
    submissions: dict[str, int]  # stream -> rows of raw.submissions
    rejected_rows: int
    rejected_files: int
    rejected_values: int
    warnings: int
    validated_this_run: int
    versions: dict[str, str]  # ingestion table -> data version

    def metadata(self, table: str) -> dict[str, int]:
        """Materialisation metadata of one ingestion table."""
        stream = next((s for s, name in tables.RAW_STREAM_TABLES.items() if name == table), None)
        if stream is not None:
            return {
                "submissions_total": int(self.submissions.get(stream, 0)),
                **{f"{t}_{k}": v for t, rep in self.transports.items() for k, v in rep.by_stream.get(stream, {}).items()},
            }
        return {
            "raw.submissions": {
                "row_count": int(sum(self.submissions.values())),
                "files_left_for_next_run": sum(len(r.not_ready) for r in self.transports.values()),
                "files_vanished": sum(len(r.vanished) for r in self.transports.values()),
            },
            "raw.submission_validation": {"validated_this_run": int(self.validated_this_run)},
            "quarantine.rejected_rows": {"row_count": int(self.rejected_rows)},
            "quarantine.rejected_files": {"row_count": int(self.rejected_files)},
            "quarantine.rejected_values": {"row_count": int(self.rejected_values)},
            "raw.submission_warnings": {"row_count": int(self.warnings)},
        }.get(table, {})
