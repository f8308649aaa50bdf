"""The settings models in dbt_like_sql/reference/: targets year by year as published (issue 17),
and the run's as-of date."""

import datetime as dt

import duckdb
import pytest

from pipelines.periods import as_of_date
from pipelines.settings import SQL_DIR
from pipelines.sql_engine.models import _body, discover_models

MODELS = {m.name: m for m in discover_models(SQL_DIR)}


def _targets() -> dict[tuple[str, str, int], tuple[float, bool, str]]:
    rows = duckdb.connect().execute(_body(MODELS["target_settings"])).fetchall()
    return {(r[0], r[1], r[3]): (float(r[4]), r[5], r[6]) for r in rows}


def test_published_targets_keep_their_value_and_source():
    targets = _targets()
    assert targets["stunting", "national", 2024] == (14.0, True, "Perpres 72/2021 (RPJMN 2020-2024)")
    assert targets["stunting", "national", 2029][:2] == (14.2, True)
    assert targets["stunting", "national", 2045][:2] == (5.0, True)
    assert targets["stunting", "rpjmd", 2030][:2] == (16.0, True)
    assert targets["extreme_poverty", "national", 2026][:2] == (0.0, True)


def test_years_between_published_targets_lie_on_the_line_and_say_so():
    targets = _targets()
    assert [targets["stunting", "national", y][0] for y in (2025, 2026, 2027, 2028, 2029)] == [
        18.8, 17.65, 16.5, 15.35, 14.2]
    value, published, source = targets["stunting", "national", 2030]
    assert value == pytest.approx(14.2 + (5.0 - 14.2) / 16, abs=0.006) and not published
    assert source.startswith("Linear between 2029 (14.2 %") and "2045 (5.0 %" in source
    assert targets["extreme_poverty", "national", 2025][:2] == (0.0, False)


def test_no_target_is_invented_before_the_first_or_after_the_last():
    targets = _targets()
    years = {scope_year for scope_year in targets if scope_year[:2] == ("stunting", "national")}
    assert min(y for *_, y in years) == 2024 and max(y for *_, y in years) == 2045
    assert not [k for k in targets if k[0] == "extreme_poverty" and k[2] > 2026]
    assert [k[2] for k in targets if k[1] == "rpjmd"] == [2030]


def test_as_of_date_is_today_in_wib_unless_overridden():
    late_utc = dt.datetime(2024, 7, 15, 18, 30, tzinfo=dt.UTC)  # 01:30 on the 16th in WIB
    assert as_of_date(None, late_utc) == dt.date(2024, 7, 16)
    assert as_of_date("  2024-03-31 ", late_utc) == dt.date(2024, 3, 31)
    with pytest.raises(ValueError, match="KONVERGENSI_AS_OF_DATE"):
        as_of_date("31/03/2024")
