"""Setting a submission aside: decisions are appended, the latest is in force, and nonsense is refused."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from pipelines import tables
from pipelines.checks.quality import STG_SUBMISSIONS_SQL
from pipelines.ingestion.exclusions import REINCLUDE, SET_ASIDE, SetAsideError, current_state, record_decision


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute("create schema raw")
    tables.create(con, "raw.submissions")
    con.execute(
        """insert into raw.submissions by name select *, 'village' as submitter_level, 'landing' as transport,
        received_at as ingested_at, 'sha' || submission_id as content_sha256 from (values
        ('v1', 'child_measurements', '36.01.01.2001', '2024-08', 1, 'a.csv', 'accepted', timestamp '2024-09-01'),
        ('v2', 'child_measurements', '36.01.01.2001', '2024-08', 2, 'a_revisi.csv', 'accepted', timestamp '2024-09-02'),
        ('bad', 'child_measurements', '36.01.01.2001', '2024-08', null, 'x.csv', 'rejected', timestamp '2024-09-03')
        ) t(submission_id, stream, submitter_code, period, version, file_name, status, received_at)"""
    )
    yield con
    con.close()


def _latest(con) -> dict[str, bool]:
    return dict(con.execute(f"select submission_id, is_latest_version from ({STG_SUBMISSIONS_SQL})").fetchall())


def test_set_aside_then_reinclude_appends_two_rows_and_moves_the_latest_version(con):
    t0 = dt.datetime(2024, 9, 5, 1, 0, tzinfo=dt.UTC)
    decision = record_decision(con, "v2", "garbled export", "Rina", now=t0)
    assert (decision.action, decision.file_name, decision.period) == (SET_ASIDE, "a_revisi.csv", "2024-08")
    assert _latest(con) == {"v1": True, "v2": False}  # the previous accepted version counts again
    record_decision(con, "v2", "checked with the puskesmas", "Budi", undo=True, now=t0 + dt.timedelta(hours=1))
    assert _latest(con) == {"v1": False, "v2": True}
    assert con.execute("select action, operator from raw.submission_exclusions order by decided_at").fetchall() == [
        (SET_ASIDE, "Rina"), (REINCLUDE, "Budi")]
    assert current_state(con, "v2")[0] == REINCLUDE


def test_decisions_stay_in_order_when_the_clock_steps_back(con):
    t0 = dt.datetime(2024, 9, 5, 1, 0, tzinfo=dt.UTC)
    record_decision(con, "v1", "wrong village", "Rina", now=t0)
    record_decision(con, "v1", "right after all", "Rina", undo=True, now=t0 - dt.timedelta(hours=1))
    assert current_state(con, "v1")[0] == REINCLUDE
    assert _latest(con)["v2"] is True


@pytest.mark.parametrize(
    ("submission_id", "undo", "reason", "operator", "message"),
    [
        ("nope", False, "r", "o", "no submission 'nope'"),
        ("bad", False, "r", "o", "was refused"),
        ("v1", True, "r", "o", "not set aside"),
        ("v1", False, " ", "o", "needs the operator's name and a reason"),
        ("v1", False, "r", "", "needs the operator's name and a reason"),
    ],
)
def test_nonsense_is_refused_and_nothing_is_recorded(con, submission_id, undo, reason, operator, message):
    with pytest.raises(SetAsideError, match=message):
        record_decision(con, submission_id, reason, operator, undo=undo)
    tables.ensure(con, "raw.submission_exclusions")
    assert con.execute("select count(*) from raw.submission_exclusions").fetchall() == [(0,)]


def test_setting_aside_twice_is_refused(con):
    record_decision(con, "v1", "garbled", "Rina")
    with pytest.raises(SetAsideError, match="already set aside"):
        record_decision(con, "v1", "garbled", "Rina")
