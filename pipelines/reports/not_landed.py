"""What did not land: files refused whole and submissions that landed under half their rows, each
with what the operator can do. The one owner of this list: the WARN check
``every_file_lands_at_least_half_its_rows`` (pipelines/checks/refusals.py), the run summary
(pipelines/runs/summary.py) and the quality report's headline all read it from here.

Scope (docs/quality.md, "Files that did not land"): a problem stays listed until it is fixed, not
only in the run that met it. A landing-folder file is read once (its fingerprint is remembered), so
a list of this run's refusals alone would be empty tomorrow although the file still sits there.

* A refused file counts when it was refused in this run, or while its content has not landed
  under any name (any stream, any transport) and no newer submission arrived under its stream and
  file name (a corrected file dropped in its place).
* A submission that landed under half its rows counts when it landed in this run, or while it is
  the latest version for its stream, submitter and period (the rule of stg_submissions.sql, read
  from there). A corrected file from the same submitter and period replaces it.

Pure: DuckDB and text only (no Dagster). Details pass :func:`render.redact` (no NIK in clear).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from pipelines.parsing.layouts import PERIOD_GRAIN, SUBMITTER_LEVEL
from pipelines.reports.render import redact
from pipelines.settings import SQL_DIR

# Lines per list in the run summary and the check's metadata; the report shows more.
LIST_LIMIT = 10
MAX_DETAIL = 160

NO_DECISIONS = ("(select null::varchar as submission_id, null::varchar as action, null::varchar as reason, "
                "null::varchar as operator, null::timestamp as decided_at where false)")
STG_SUBMISSIONS_SQL = (SQL_DIR / "staging" / "stg_submissions.sql").read_text(encoding="utf-8").strip().rstrip(";")

# What the operator can do, per file-level reason code (docs/quality.md lists the same).
REMEDIES = {
    "bad_file_name": "rename it {pattern}, e.g. {example}; it lands in the next run covering that period",
    "submitter_unknown": "fix the columns the detail names so that the rows name known regions (or one OPD), "
                         "or rename it {pattern}, e.g. {example}",
    "period_unknown": "fix the date or year column the detail names, or rename it {pattern}, e.g. {example}; "
                      "a P3KE register must be named with its year",
    "undecodable": "export it again from the source system as CSV (UTF-8) or XLSX and drop the new file",
    "format_mismatch": "give it the extension of its content (.csv, .xlsx or .json), or export it again",
    "missing_columns": "export it again with every required column (the detail names the missing ones)",
    "bad_json": "the JSON is cut off or malformed: download or export it again",
    "empty": "it has no data rows: ask the submitter for the filled-in export",
    "too_large": "split the export (per village or per month), or send CSV instead of a workbook",
    "not_regular_file": "put the file itself in the landing folder: links and special files are never followed "
                        "or read",
    "not_xlsx": "open it and save it again as .xlsx in Excel, or export CSV",
    "parser_crashed": "the workbook made its reader crash: open it and save it again as .xlsx in Excel, or export "
                      "CSV; if a fresh export does the same, send the file to the data engineers",
    "internal_error": "a pipeline fault, not the file: send the detail to the data engineers",
    "parser_error": "a pipeline fault, not the file: send the detail to the data engineers",
}
DEFAULT_REMEDY = "read the detail, then fix or export the file again and drop the new file"
THIN_REMEDY = (
    "ask the submitter for a corrected file (same submitter and period: it becomes the next version "
    "and replaces this one); the rejected rows are in quarantine.rejected_rows"
)
_EXAMPLE_CODE = {"village": "36.04.15.2001", "regency": "36.04", "opd": "DINKES"}
_EXAMPLE_PERIOD = {"month": "2024-08", "quarter": "2024-Q3", "year": "2024"}


def remedy(reason_code: str, stream: str, file_name: str) -> str:
    """What to do about a file refused for ``reason_code``."""
    level, grain = SUBMITTER_LEVEL.get(stream, "village"), PERIOD_GRAIN.get(stream, "month")
    ext = file_name.rsplit(".", 1)[-1].lower() if "." in file_name else "csv"
    ext = ext if ext in ("csv", "xlsx", "json") else "csv"
    return REMEDIES.get(reason_code, DEFAULT_REMEDY).format(
        pattern=f"<{level} code>_<{grain}>.{ext}", example=f"{_EXAMPLE_CODE[level]}_{_EXAMPLE_PERIOD[grain]}.{ext}"
    )


def _short(detail: str | None, file_name: str, reason_code: str) -> str:
    """The detail without the file name and reason code the line already shows, redacted."""
    text = (detail or "").strip()
    for prefix in (f"{file_name!r}: ", f"{reason_code}: "):
        text = text.removeprefix(prefix)
    text = redact(text)
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"


def _when(is_this_run: bool, at: dt.datetime | None) -> str:
    return "this run" if is_this_run else f"{at:%Y-%m-%d}" if at else "earlier"


@dataclass(frozen=True)
class RefusedFile:
    """One row of ``quarantine.rejected_files`` still waiting for the operator."""

    stream: str
    file_name: str
    transport: str
    reason_code: str
    detail: str
    rejected_at: dt.datetime | None
    is_this_run: bool

    @property
    def remedy(self) -> str:
        return remedy(self.reason_code, self.stream, self.file_name)

    @property
    def short_detail(self) -> str:
        return _short(self.detail, self.file_name, self.reason_code)

    @property
    def reason(self) -> str:
        return self.reason_code

    @property
    def when(self) -> str:
        """``this run``, or the day it was refused."""
        return _when(self.is_this_run, self.rejected_at)

    def line(self) -> str:
        when = self.when if self.is_this_run else f"refused {self.when}"
        return f"{self.stream}/{self.file_name} ({self.transport}, {when}): {self.reason_code}: {self.short_detail}"


@dataclass(frozen=True)
class ThinSubmission:
    """An accepted submission that landed fewer than half of its rows."""

    stream: str
    file_name: str
    submitter_code: str
    period: str
    n_source_rows: int
    n_rows_accepted: int
    reasons: str
    ingested_at: dt.datetime | None
    is_this_run: bool

    remedy = THIN_REMEDY

    @property
    def reason(self) -> str:
        return f"{self.n_rows_accepted} of {self.n_source_rows} rows landed"

    @property
    def when(self) -> str:
        """``this run``, or the day it landed."""
        return _when(self.is_this_run, self.ingested_at)

    def line(self) -> str:
        when = self.when if self.is_this_run else f"landed {self.when}"
        rejected = f"; rejected: {self.reasons}" if self.reasons else ""
        return f"{self.stream}/{self.file_name} ({when}): {self.reason}{rejected}"


@dataclass
class NotLanded:
    """Refused files and thin submissions in a run's scope (see the module docstring)."""

    refused: list[RefusedFile] = field(default_factory=list)
    thin: list[ThinSubmission] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.refused or self.thin)

    @classmethod
    def find(cls, con, run_id: str | None) -> NotLanded:
        """Refused files and thin submissions in the scope of run ``run_id`` (``None``: no run,
        only what is still waiting). Tables that do not exist yet give empty lists."""
        have = {name for (name,) in con.execute(
            "select table_schema || '.' || table_name from information_schema.tables").fetchall()}
        out = cls()
        if "raw.submissions" not in have:
            return out
        if "quarantine.rejected_files" in have:
            out.refused = [RefusedFile(*row) for row in con.execute(REFUSED_SQL, [run_id, run_id]).fetchall()]
        reasons = REASONS_SQL if "quarantine.rejected_rows" in have else NO_REASONS_SQL
        stg = STG_SUBMISSIONS_SQL if "raw.submission_exclusions" in have else STG_SUBMISSIONS_SQL.replace(
            "raw.submission_exclusions", NO_DECISIONS)  # a warehouse from before set-aside existed
        sql = THIN_SQL.format(stg_submissions=stg, reasons=reasons)
        out.thin = [ThinSubmission(*row) for row in con.execute(sql, [run_id, run_id]).fetchall()]
        return out

    @property
    def headline(self) -> str:
        """E.g. "2 files refused, 1 submission landed under half its rows" (empty parts left out)."""
        parts = []
        if self.refused:
            parts.append(f"{len(self.refused):,} file{'s' if len(self.refused) != 1 else ''} refused")
        if self.thin:
            one = len(self.thin) == 1
            parts.append(f"{len(self.thin):,} submission{'' if one else 's'} landed under half "
                         f"{'its' if one else 'their'} rows")
        return ", ".join(parts) or "every file landed at least half its rows"

    def lines(self, limit: int = LIST_LIMIT) -> list[str]:
        """Plain-text lines: a title per list, two lines per item (what, and what to do), at most
        ``limit`` items per list."""
        out = []
        for title, items, where in (
            ("refused files", self.refused, "quarantine.rejected_files"),
            ("submissions landing under half their rows", self.thin, "raw.submissions"),
        ):
            if items:
                out.append(f"{title} ({len(items):,}):")
                for item in items[:limit]:
                    out += [f"  {item.line()}", f"    what to do: {item.remedy}"]
                if len(items) > limit:
                    out.append(f"  … and {len(items) - limit:,} more ({where}; the quality report lists them)")
        return out


REFUSED_SQL = """
select f.stream, f.file_name, f.transport, f.reason_code, f.detail, f.rejected_at,
    coalesce(f.run_id = ?, false) as is_this_run
from quarantine.rejected_files as f
where coalesce(f.run_id = ?, false)
    or (
        -- its content has not landed under any name
        not exists (
            select 1 from raw.submissions as s
            where s.status = 'accepted' and s.content_sha256 = f.content_sha256
        )
        -- and nothing newer arrived in its place
        and not exists (
            select 1 from raw.submissions as s
            where s.stream = f.stream and s.file_name = f.file_name and s.ingested_at > f.rejected_at
        )
    )
order by is_this_run desc, f.rejected_at desc, f.stream, f.file_name
"""

REASONS_SQL = """
select
    submission_id,
    string_agg(reason_code || ' (' || n || ' row' || if(n = 1, '', 's') || ')', ', ' order by n desc, reason_code)
        filter (where rank <= 3)
    || if(count(*) > 3, ', and ' || (count(*) - 3) || ' more reasons', '') as reasons
from (
    select *, row_number() over (partition by submission_id order by n desc, reason_code) as rank
    from (
        select submission_id, reason_code, count(distinct row_number) as n
        from quarantine.rejected_rows
        where submission_id in (select submission_id from thin)
        group by submission_id, reason_code
    )
)
group by submission_id
"""

NO_REASONS_SQL = "select null::varchar as submission_id, '' as reasons"

THIN_SQL = """
with stg_submissions as (
    {stg_submissions}
),

thin as (
    select s.submission_id, s.stream, s.file_name, s.submitter_code, s.period, s.n_source_rows,
        s.n_rows_accepted, r.ingested_at, coalesce(r.run_id = ?, false) as is_this_run
    from stg_submissions as s
    inner join raw.submissions as r on s.submission_id = r.submission_id
    where 2 * s.n_rows_accepted < s.n_source_rows and (s.is_latest_version or coalesce(r.run_id = ?, false))
),

reasons as (
    {reasons}
)

select thin.stream, thin.file_name, thin.submitter_code, thin.period, thin.n_source_rows, thin.n_rows_accepted,
    coalesce(reasons.reasons, '') as reasons, thin.ingested_at, thin.is_this_run
from thin
left join reasons on thin.submission_id = reasons.submission_id
order by thin.is_this_run desc, thin.ingested_at desc, thin.stream, thin.file_name
"""
