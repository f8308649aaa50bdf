"""Key hygiene (issue 18): a weak key or the demo key is refused, and a warehouse refuses a key
that is not the one its pseudonyms were made with, until an operator starts a new lineage."""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import pytest

from pipelines import settings
from pipelines.ingestion.keys import MIN_KEY_BYTES, PseudonymKeyError, check_key, start_lineage, verify_key
from pipelines.ingestion.pull import pull_submissions
from pipelines.parsing.pseudonym import Pseudonymiser
from pipelines.sql_engine.build_state import ensure as ensure_bookkeeping

KEY_A = "a" * 20 + "-first-key-of-32-bytes"
KEY_B = "b" * 20 + "-other-key-of-32-bytes"


def test_check_key_refuses_empty_short_and_demo_keys():
    with pytest.raises(PseudonymKeyError, match="not set"):
        check_key("", demo_mode=False)
    with pytest.raises(PseudonymKeyError, match=f"31 bytes; a key needs at least {MIN_KEY_BYTES}"):
        check_key("x" * 31, demo_mode=False)
    with pytest.raises(PseudonymKeyError, match="published demo key"):
        check_key(settings.DEMO_PSEUDONYM_KEY, demo_mode=False)
    assert check_key(settings.DEMO_PSEUDONYM_KEY, demo_mode=True) == settings.DEMO_PSEUDONYM_KEY.encode()
    assert check_key("x" * 32, demo_mode=False) == b"x" * 32
    # the refusal never echoes the key
    with pytest.raises(PseudonymKeyError) as err:
        check_key("short-secret", demo_mode=False)
    assert "short-secret" not in str(err.value)


def test_a_changed_key_is_refused_until_a_new_lineage_is_started():
    con = duckdb.connect()
    con.execute("create schema raw")
    a, b = (Pseudonymiser(k.encode()).key_fingerprint() for k in (KEY_A, KEY_B))
    assert a != b and KEY_A not in a
    day = dt.datetime(2025, 1, 5, tzinfo=dt.UTC)
    assert verify_key(con, a, now=day) == 1 and verify_key(con, a) == 1
    with pytest.raises(PseudonymKeyError, match="not a key this warehouse has used.*lineage 1's key.*rotate-key"):
        verify_key(con, b)
    with pytest.raises(PseudonymKeyError, match="operator's name and a reason"):
        start_lineage(con, b, "", "typo")
    with pytest.raises(PseudonymKeyError, match="already the current one"):
        start_lineage(con, a, "Rina (Bappeda)", "no change")
    assert start_lineage(con, b, "Rina (Bappeda)", "key leaked in a ticket", now=day) == 2
    assert verify_key(con, b) == 2
    with pytest.raises(PseudonymKeyError, match="the key of lineage 1, which lineage 2 replaced on 2025-01-05"):
        verify_key(con, a)
    rows = con.execute("select lineage, started_by, reason from raw.pseudonym_keys order by 1").fetchall()
    assert rows == [(1, "first ingestion", None), (2, "Rina (Bappeda)", "key leaked in a ticket")]


def test_ingestion_with_a_mistyped_key_lands_nothing(tmp_path):
    from pipelines.synthetic.generate import generate

    out = tmp_path / "gen"
    generate(out, scale="small", seed=7)
    landing = tmp_path / "landing" / "survey_figures"
    landing.mkdir(parents=True)
    first, second = sorted((out / "survey_figures").iterdir())[:2]
    shutil.copy2(first, landing / first.name)
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    for schema in settings.SCHEMAS:
        con.execute(f"create schema if not exists {schema}")
    ensure_bookkeeping(con)
    con.execute(f"create table raw.region_master as select * from read_csv('{out / 'region_master.csv'}', all_varchar=true)")

    run = pull_submissions(con, "run-1", None, Pseudonymiser(KEY_A.encode()), landing_root=tmp_path / "landing")
    assert run.transports["landing"].summary()
    landed = con.execute("select count(*) from raw.submissions").fetchall()[0][0]
    assert landed == 1
    shutil.copy2(second, landing / second.name)
    with pytest.raises(PseudonymKeyError, match="nothing was ingested"):
        pull_submissions(con, "run-2", None, Pseudonymiser(KEY_B.encode()), landing_root=tmp_path / "landing")
    assert con.execute("select count(*) from raw.submissions").fetchall()[0][0] == landed
    pull_submissions(con, "run-3", None, Pseudonymiser(KEY_A.encode()), landing_root=tmp_path / "landing")
    assert con.execute("select count(*) from raw.submissions").fetchall()[0][0] == landed + 1
