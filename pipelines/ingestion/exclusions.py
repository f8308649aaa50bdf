"""Setting a submission aside, and re-including it (pure: DuckDB, no Dagster).

Raw is append-only, so a submission that lands but fails a blocking check (mostly unparseable, a
wrong export) would stop every night's publish until a corrected file arrives. An operator sets it
aside instead: :func:`record_decision` appends one row to ``raw.submission_exclusions`` (who, why,
when); the latest row per submission is in force. The rule that acts on it has one owner,
``dbt_like_sql/staging/stg_submissions.sql``: a set-aside submission is never the latest version,
so its rows leave staging and marts and the highest version not set aside counts instead (the
previous accepted version, if there is one). Its raw rows stay; re-including it puts it back.

Both ``konvergensi set-aside`` and the Dagster job ``set_aside_submission`` call
:func:`record_decision`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pipelines import tables

TABLE = "raw.submission_exclusions"
SET_ASIDE, REINCLUDE = "set_aside", "reinclude"


class SetAsideError(ValueError):
    """The decision cannot be recorded: unknown submission, nothing to undo, missing name or reason."""


@dataclass(frozen=True)
class Decision:
    submission_id: str
    action: str
    reason: str
    operator: str
    at: dt.datetime
    stream: str
    file_name: str
    period: str | None

    def summary(self) -> str:
        what = "set aside" if self.action == SET_ASIDE else "re-included"
        return (f"{self.submission_id} ({self.stream}/{self.file_name}, period {self.period}) {what} by "
                f"{self.operator}: {self.reason}. The next run rebuilds staging and marts "
                f"{'without it' if self.action == SET_ASIDE else 'with it again'}.")


def current_state(con, submission_id: str) -> tuple[str | None, dt.datetime | None]:
    """The action in force for ``submission_id`` (``set_aside``, ``reinclude`` or None) and when."""
    tables.ensure(con, TABLE)
    rows = con.execute(
        f"select action, decided_at from {TABLE} where submission_id = ? order by decided_at desc, action desc limit 1",
        [submission_id],
    ).fetchall()
    return rows[0] if rows else (None, None)


def record_decision(con, submission_id: str, reason: str, operator: str, undo: bool = False,
                    now: dt.datetime | None = None) -> Decision:
    """Append a set-aside (or, with ``undo``, a re-include) decision for an accepted submission.

    Raises :class:`SetAsideError` when the submission is not an accepted one in ``raw.submissions``,
    when it is already in the asked state, or when the operator's name or the reason is empty.
    """
    submission_id, reason, operator = submission_id.strip(), reason.strip(), operator.strip()
    if not operator or not reason:
        raise SetAsideError("setting a submission aside (or undoing it) needs the operator's name and a reason")
    tables.ensure(con, "raw.submissions")
    found = con.execute(
        "select stream, file_name, period, status from raw.submissions where submission_id = ?", [submission_id]
    ).fetchall()
    if not found:
        raise SetAsideError(f"no submission {submission_id!r} in raw.submissions (see the quality report or "
                            "the failed check's metadata for the id)")
    stream, file_name, period, status = found[0]
    if status != "accepted":
        raise SetAsideError(f"{submission_id} was refused ({status}): only a landed submission can be set aside")
    action = REINCLUDE if undo else SET_ASIDE
    state, last_at = current_state(con, submission_id)
    if undo and state != SET_ASIDE:
        raise SetAsideError(f"{submission_id} is not set aside: nothing to re-include")
    if not undo and state == SET_ASIDE:
        raise SetAsideError(f"{submission_id} is already set aside (since {last_at:%Y-%m-%d %H:%M} UTC)")
    at = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(tzinfo=None)
    if last_at is not None and at <= last_at:
        # the latest row is in force: keep the order of decisions even if the clock stepped back
        at = last_at + dt.timedelta(microseconds=1)
    con.execute(f"insert into {TABLE} values (?, ?, ?, ?, ?)", [submission_id, action, reason, operator, at])
    return Decision(submission_id, action, reason, operator, at, stream, file_name, period)
