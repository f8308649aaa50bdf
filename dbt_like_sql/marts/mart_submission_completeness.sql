-- one row per expected submitter x stream x period: submitted or not, when, how late, and what was quarantined.
-- Expected: every village for the village streams, every regency for the regency streams, every expected OPD for
-- the OPD stream; periods are those any submission of the stream names. The province chases from this list.
with streams as (
    select * from reference.stream_settings
),

files as (
    select
        *,
        case when submitter_level = 'opd' then upper(submitter_code) else submitter_code end as submitter_key
    from raw.submissions
    where period is not null and submitter_code is not null
),

periods as (
    select distinct files.stream, files.period, dim_period.end_date as period_end_date
    from files
    inner join marts.dim_period on dim_period.period_key = files.period
),

expected as (
    select streams.stream, region.region_code as submitter_key
    from streams
    inner join marts.dim_region as region on region.region_level = streams.submitter_level
    union all
    select streams.stream, opd.opd_code as submitter_key
    from streams
    inner join marts.dim_opd as opd on streams.submitter_level = 'opd' and opd.is_expected_submitter
),

submitter_periods as (
    select expected.stream, expected.submitter_key, periods.period, true as is_expected_submitter
    from expected
    inner join periods on periods.stream = expected.stream
    union all
    -- anyone who sent a file without being on the list is shown for that period, so nothing sent is hidden
    select distinct files.stream, files.submitter_key, files.period, false as is_expected_submitter
    from files
    anti join expected on expected.stream = files.stream and expected.submitter_key = files.submitter_key
),

per_key as (
    select
        stream,
        submitter_key,
        period,
        count(*) filter (where status = 'accepted') as n_submissions,
        count(*) filter (where status <> 'accepted') as n_files_rejected,
        min(received_at) filter (where status = 'accepted') as first_received_at,
        max(received_at) filter (where status = 'accepted') as last_received_at,
        max(received_at) filter (where status <> 'accepted') as last_rejected_at
    from files
    group by all
),

latest as (
    select
        stream,
        case when submitter_level = 'opd' then upper(submitter_code) else submitter_code end as submitter_key,
        period,
        submission_id as latest_submission_id,
        version as latest_version,
        n_rows_accepted,
        n_rows_rejected
    from staging.stg_submissions
    where is_latest_version
),

grid as (
    select
        submitter_periods.stream,
        streams.submitter_level,
        submitter_periods.submitter_key,
        submitter_periods.is_expected_submitter,
        submitter_periods.period,
        -- due by the end of the N-th day after the period ends
        (periods.period_end_date + to_days(streams.deadline_days_after_period_end))::date as deadline_date
    from submitter_periods
    inner join streams on streams.stream = submitter_periods.stream
    inner join periods on periods.stream = submitter_periods.stream and periods.period = submitter_periods.period
),

final as (
    select
        grid.stream,
        grid.submitter_level,
        grid.submitter_key as submitter_code,
        case when grid.submitter_level <> 'opd' then region.region_code end as region_code,
        case when grid.submitter_level = 'opd' then grid.submitter_key end as opd_code,
        grid.period,
        grid.is_expected_submitter,
        coalesce(per_key.n_submissions, 0) > 0 as is_submitted,
        case
            when coalesce(per_key.n_submissions, 0) > 0
                and (per_key.first_received_at + interval 7 hour)::date > grid.deadline_date
                then 'late'
            when coalesce(per_key.n_submissions, 0) > 0 then 'on_time'
            when coalesce(per_key.n_files_rejected, 0) > 0 then 'rejected_only'
            else 'missing'
        end as submission_status,
        coalesce(per_key.n_submissions, 0) as n_submissions,
        latest.latest_version,
        latest.latest_submission_id,
        per_key.first_received_at,
        per_key.last_received_at,
        grid.deadline_date,
        -- received_at is UTC; the deadline is a calendar day in WIB (UTC+7)
        case
            when per_key.first_received_at is not null
                then greatest(
                    date_diff('day', grid.deadline_date, (per_key.first_received_at + interval 7 hour)::date), 0
                )
        end as days_late,
        coalesce(latest.n_rows_accepted, 0) as n_rows_accepted,
        coalesce(latest.n_rows_rejected, 0) as n_rows_quarantined,
        coalesce(per_key.n_files_rejected, 0) as n_files_rejected,
        per_key.last_rejected_at
    from grid
    left join per_key
        on per_key.stream = grid.stream
        and per_key.submitter_key = grid.submitter_key
        and per_key.period = grid.period
    left join latest
        on latest.stream = grid.stream
        and latest.submitter_key = grid.submitter_key
        and latest.period = grid.period
    left join marts.dim_region as region on region.region_code = grid.submitter_key
)

select * from final
order by stream, period, submitter_code
