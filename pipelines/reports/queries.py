"""SQL aggregates behind the quality report.

Every function aggregates inside DuckDB and returns at most a few dozen rows, whatever the size of the
warehouse, so the report never pulls a whole table into Python. None of them selects
``quarantine.rejected_rows.payload``: the report must not be able to show a rejected row's content.
"""

from __future__ import annotations

import duckdb

# Units with fewer measurements give SDs and digit scores that are mostly noise (a posyandu weighs ~5 children).
MIN_UNIT_MEASUREMENTS = 20
# DHS 5th-95th percentile SD of HAZ [DOMAIN S18]; routine e-PPGBM data is expected to sit lower.
HAZ_SD_RANGE = (1.35, 1.95)
# WHO digit preference score: above 20 is "problematic".
DPS_LIMIT = 20.0
WRONG_POSITION_LIMIT_PCT = 10.0
HAZ_BIN_WIDTH = 0.25
# Completeness shows only the most recent periods of each stream: monthly streams grow a row a month.
COMPLETENESS_PERIODS = 6


def existing_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Return ``schema.table`` for every table and view the connection can see."""
    rows = con.execute("select table_schema || '.' || table_name from information_schema.tables").fetchall()
    return {name for (name,) in rows}


def _dicts(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> list[dict]:
    cur = con.execute(sql, params or {})
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def submissions_by_stream(con, run_id: str | None) -> list[dict]:
    """One row per stream x transport: files and rows this run and in total (``raw.submissions``)."""
    return _dicts(
        con,
        """
        select
            stream,
            transport,
            count(*) filter (where run_id = $run) as n_files_run,
            count(*) as n_files_total,
            coalesce(sum(n_rows_accepted) filter (where run_id = $run), 0) as n_rows_landed_run,
            coalesce(sum(n_rows_accepted), 0) as n_rows_landed_total,
            coalesce(sum(n_rows_rejected) filter (where run_id = $run), 0) as n_rows_quarantined_run,
            coalesce(sum(n_rows_rejected), 0) as n_rows_quarantined_total,
            count(*) filter (where status <> 'accepted' and run_id = $run) as n_files_rejected_run,
            count(*) filter (where status <> 'accepted') as n_files_rejected_total
        from raw.submissions
        group by all
        order by stream, transport
        """,
        {"run": run_id},
    )


def reconciliation(con, run_id: str | None, has_quarantine: bool) -> list[dict]:
    """Per stream: rows read vs rows landed + rows quarantined, for this run (or everything without a run).

    The quarantined count comes from ``quarantine.rejected_rows`` (one row may carry several reasons, so
    rows are counted once) and is also compared with what ``raw.submissions`` recorded.
    """
    quarantined = (
        """
        select submission_id,
            count(distinct row_number) + count(*) filter (where row_number is null) as n_rows
        from quarantine.rejected_rows
        group by submission_id
        """
        if has_quarantine
        else "select null::varchar as submission_id, 0 as n_rows where false"
    )
    rows = _dicts(
        con,
        f"""
        with quarantined as ({quarantined}),
        scoped as (
            select * from raw.submissions
            where status = 'accepted' and (cast($run as varchar) is null or run_id = $run)
        )
        select
            scoped.stream,
            count(*) as n_files,
            sum(scoped.n_source_rows) as n_read,
            sum(scoped.n_rows_accepted) as n_landed,
            sum(coalesce(scoped.n_rows_rejected, 0)) as n_quarantined_recorded,
            sum(coalesce(quarantined.n_rows, 0)) as n_quarantined
        from scoped
        left join quarantined using (submission_id)
        group by scoped.stream
        order by scoped.stream
        """,
        {"run": run_id},
    )
    for row in rows:
        read, landed, recorded, found = (
            row[k] for k in ("n_read", "n_landed", "n_quarantined_recorded", "n_quarantined")
        )
        row["ok"] = read is not None and landed is not None and read == landed + found and recorded == found
    return rows


def quarantine_reasons(con, run_id: str | None) -> list[dict]:
    """Rejected-row counts by stream x reason code (``quarantine.rejected_rows``), most frequent first."""
    return _dicts(
        con,
        """
        select stream, reason_code,
            count(*) filter (where run_id = $run) as n_run,
            count(*) as n_total,
            count(distinct submission_id) as n_files
        from quarantine.rejected_rows
        group by all
        order by n_total desc, stream, reason_code
        limit 50
        """,
        {"run": run_id},
    )


def quarantine_by_submitter(con, run_id: str | None, tables: set[str], limit: int = 20) -> list[dict]:
    """The submitters with the most rejected rows, with the region's name when the submitter is a region."""
    has_subs = "raw.submissions" in tables
    has_region = "marts.dim_region" in tables
    submitter = "coalesce(s.submitter_code, '(unknown)')" if has_subs else "'(unknown)'"
    join_subs = "left join raw.submissions as s using (submission_id)" if has_subs else ""
    region_cols = (
        "region.region_name, region.regency_name"
        if has_region
        else "null as region_name, null as regency_name"
    )
    join_region = (
        "left join marts.dim_region as region on region.region_code = top.submitter_code"
        if has_region
        else ""
    )
    return _dicts(
        con,
        f"""
        with top as (
            select q.stream, {submitter} as submitter_code,
                count(*) filter (where q.run_id = $run) as n_run,
                count(*) as n_total,
                count(distinct q.submission_id) as n_files,
                mode(q.reason_code) as top_reason
            from quarantine.rejected_rows as q
            {join_subs}
            group by all
            order by n_total desc, submitter_code
            limit {int(limit)}
        )
        select top.*, {region_cols}
        from top
        {join_region}
        order by top.n_total desc, top.submitter_code
        """,
        {"run": run_id},
    )


def rejected_files(con, run_id: str | None, limit: int = 50) -> tuple[int, list[dict]]:
    """Whole files refused (``quarantine.rejected_files``): total count and the most recent ``limit``."""
    total = con.execute("select count(*) from quarantine.rejected_files").fetchone()[0]
    rows = _dicts(
        con,
        f"""
        select stream, file_name, transport, reason_code, detail,
            coalesce(run_id = $run, false) as is_this_run, rejected_at
        from quarantine.rejected_files
        order by rejected_at desc nulls last, file_name
        limit {int(limit)}
        """,
        {"run": run_id},
    )
    return total, rows


def latest_measurement_period(con) -> str | None:
    """The most recent period in ``marts.fct_child_measurement`` (periods sort as text)."""
    return con.execute("select max(period) from marts.fct_child_measurement").fetchone()[0]


def regency_names(con, tables: set[str]) -> dict[str, str]:
    """Regency code -> name from ``marts.dim_region`` (empty when the dimension is absent)."""
    if "marts.dim_region" not in tables:
        return {}
    rows = con.execute("select region_code, region_name from marts.dim_region where region_level = 'regency'")
    return dict(rows.fetchall())


def haz_histogram(con, period: str) -> tuple[list[dict], list[dict]]:
    """Unflagged HAZ per regency for one period, binned in SQL: (bins, per-regency n/mean/sd).

    The regency is the first five characters of the Kemendagri village code (``PP.KK``).
    """
    base = """
        select left(village_code, 5) as regency_code, haz
        from marts.fct_child_measurement
        where period = $period and haz is not null and not coalesce(flag_haz, false)
    """
    bins = _dicts(
        con,
        f"""
        select regency_code, floor(haz / {HAZ_BIN_WIDTH})::integer as bin, count(*) as n
        from ({base}) group by all order by all
        """,
        {"period": period},
    )
    stats = _dicts(
        con,
        f"""
        select regency_code, count(*) as n, avg(haz) as mean, stddev_samp(haz) as sd
        from ({base}) group by all order by regency_code
        """,
        {"period": period},
    )
    return bins, stats


def terminal_digits(con, period: str) -> dict[str, list[int]]:
    """Counts of the first decimal digit (0-9) of heights and weights for one period."""
    rows = con.execute(
        """
        select 'height' as variable, (abs(round(lenhei_cm * 10))::bigint % 10)::integer as digit, count(*)
        from marts.fct_child_measurement where period = $period and lenhei_cm is not null group by all
        union all
        select 'weight', (abs(round(weight_kg * 10))::bigint % 10)::integer, count(*)
        from marts.fct_child_measurement where period = $period and weight_kg is not null group by all
        """,
        {"period": period},
    ).fetchall()
    counts = {"height": [0] * 10, "weight": [0] * 10}
    for variable, digit, n in rows:
        counts[variable][digit] = n
    return counts


def regency_stunting(con) -> tuple[str | None, list[dict]]:
    """Latest-period routine stunting prevalence with Wilson 95 % CI per regency and for the province."""
    period = con.execute(
        "select max(period) from marts.fct_stunting_prevalence where indicator = 'stunting' "
        "and region_level = 'regency'"
    ).fetchone()[0]
    if period is None:
        return None, []
    rows = _dicts(
        con,
        """
        select region_code, region_level, n_children, n_cases, pct_prevalence_pooled as pct_prevalence, ci_low, ci_high
        from marts.fct_stunting_prevalence
        where indicator = 'stunting' and period = $period and region_level in ('regency', 'province')
            and n_children > 0
        order by region_level desc, region_code
        """,
        {"period": period},
    )
    return period, rows


def _unit_flags(con, tables: set[str], where: str, order: str, limit: int = 10) -> list[dict]:
    region = (
        "left join marts.dim_region as region on region.region_code = q.region_code"
        if "marts.dim_region" in tables
        else ""
    )
    region_name = "coalesce(region.region_name, q.region_code)" if region else "q.region_code"
    return _dicts(
        con,
        f"""
        select q.unit_level, q.unit_name, q.region_code, {region_name} as region_name, q.period,
            q.n_measurements, q.sd_haz, q.dps_height, q.dps_weight, q.pct_wrong_position
        from marts.fct_growth_data_quality as q
        {region}
        where q.n_measurements >= {MIN_UNIT_MEASUREMENTS} and ({where})
        order by {order}, q.unit_level, q.unit_key, q.period
        limit {int(limit)}
        """,
    )


def growth_quality_flags(con, tables: set[str]) -> dict:
    """Top units on three WHO data-quality measures (``marts.fct_growth_data_quality``), plus counts."""
    low, high = HAZ_SD_RANGE
    counts = con.execute(
        f"""
        select
            count(*),
            count(*) filter (where sd_haz < {low}),
            count(*) filter (where sd_haz > {high}),
            count(*) filter (where greatest(dps_height, dps_weight) > {DPS_LIMIT}),
            count(*) filter (where pct_wrong_position > {WRONG_POSITION_LIMIT_PCT})
        from marts.fct_growth_data_quality
        where n_measurements >= {MIN_UNIT_MEASUREMENTS}
        """
    ).fetchone()
    return {
        "n_units": counts[0],
        "n_sd_low": counts[1],
        "n_sd_high": counts[2],
        "n_dps": counts[3],
        "n_wrong_position": counts[4],
        "sd_haz": _unit_flags(
            con,
            tables,
            f"q.sd_haz < {low} or q.sd_haz > {high}",
            f"greatest({low} - q.sd_haz, q.sd_haz - {high}) desc",
        ),
        "dps": _unit_flags(
            con,
            tables,
            f"greatest(q.dps_height, q.dps_weight) > {DPS_LIMIT}",
            "greatest(q.dps_height, q.dps_weight) desc",
        ),
        "wrong_position": _unit_flags(
            con, tables, f"q.pct_wrong_position > {WRONG_POSITION_LIMIT_PCT}", "q.pct_wrong_position desc"
        ),
    }


def completeness(con) -> list[dict]:
    """Expected vs submitted per stream x period (latest periods only), from ``mart_submission_completeness``."""
    return _dicts(
        con,
        f"""
        select
            stream,
            period,
            arg_min(submitter_level, not is_expected_submitter) as submitter_level,  -- an expected one's
            count(*) filter (where is_expected_submitter) as n_expected,
            count(*) filter (where is_expected_submitter and is_submitted) as n_submitted,
            count(*) filter (where is_expected_submitter and submission_status = 'on_time') as n_on_time,
            count(*) filter (where is_expected_submitter and submission_status = 'late') as n_late,
            count(*) filter (where is_expected_submitter and submission_status = 'rejected_only') as n_rejected_only,
            count(*) filter (where is_expected_submitter and submission_status = 'missing') as n_missing,
            count(*) filter (where not is_expected_submitter) as n_unexpected
        from marts.mart_submission_completeness
        group by stream, period
        qualify dense_rank() over (partition by stream order by period desc) <= {COMPLETENESS_PERIODS}
        order by stream, period desc
        """,
    )


def validation_suites(con, run_id: str | None, tables: set[str]) -> tuple[list[dict], list[dict]]:
    """Validation results per stream x suite, and the most often failed expectations by name.

    ``failed_expectations`` is a JSON list of ``{expectation, check, column, n_unexpected, ...}``
    (``pipelines.ingestion.validation.runner``). Only names and counts are read out of it: raw GX results can carry
    sample values (``partial_unexpected_list``) that must not reach the report.
    """
    join = "left join raw.submissions as s using (submission_id)" if "raw.submissions" in tables else ""
    in_run = "s.run_id = $run" if join else "false"
    suites = _dicts(
        con,
        f"""
        select v.stream, v.suite_name,
            count(*) as n_validated,
            count(*) filter (where {in_run}) as n_validated_run,
            count(*) filter (where not v.success) as n_failed,
            count(*) filter (where not v.success and {in_run}) as n_failed_run,
            coalesce(sum(v.n_failed), 0) as n_failed_expectations
        from raw.submission_validation as v
        {join}
        group by all
        order by n_failed desc, v.stream, v.suite_name
        limit 50
        """,
        {"run": run_id},
    )
    try:
        failed = _dicts(
            con,
            """
            with items as (
                select stream, suite_name, unnest(from_json(failed_expectations::varchar, '["json"]')) as item
                from raw.submission_validation
                where not success and failed_expectations is not null
            )
            select stream, suite_name,
                coalesce(
                    item ->> '$.expectation_type', item ->> '$.type', item ->> '$.expectation',
                    case when json_type(item) = 'VARCHAR' then item ->> '$' end, '(unnamed)'
                ) as expectation,
                item ->> '$.check' as check_name,
                item ->> '$.column' as column_name,
                count(*) as n,
                sum(try_cast(item ->> '$.n_unexpected' as bigint)) as n_unexpected
            from items
            group by all
            order by n desc, stream, suite_name, expectation
            limit 20
            """,
        )
    except duckdb.Error:
        # an unexpected JSON shape only costs the breakdown, never the report
        failed = []
    return suites, failed
