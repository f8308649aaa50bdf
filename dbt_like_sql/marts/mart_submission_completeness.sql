-- one row per expected submitter x stream x period: submitted or not, when, how late, and what was quarantined.
-- Expected: every village for the village streams, every regency for the regency streams, every expected OPD for
-- the OPD stream; periods are those any submission of the stream names. The province chases from this list.
-- A village has reported when it sent its own file or when the latest version of a district-, regency- or
-- province-wide file for the period holds its rows (one e-PPGBM export covers a puskesmas, a kecamatan or a regency).
-- A file an operator set aside (stg_submissions.is_set_aside) does not count as reported: the status says set_aside.
with streams as (
    select * from reference.stream_settings
),

set_aside as (
    select submission_id from staging.stg_submissions
    where is_set_aside
),

files as (
    select
        raw_files.*,
        case when raw_files.submitter_level = 'opd' then upper(raw_files.submitter_code) else raw_files.submitter_code end
            as submitter_key,
        set_aside.submission_id is not null as is_set_aside
    from raw.submissions as raw_files
    left join set_aside using (submission_id)
    where raw_files.period is not null and raw_files.submitter_code is not null
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
    select
        expected.stream, expected.submitter_key, periods.period, true as is_expected_submitter,
        null::varchar as file_submitter_level
    from expected
    inner join periods on periods.stream = expected.stream
    union all
    -- anyone who sent a file without being on the list is shown for that period, so nothing sent is hidden
    select distinct
        files.stream, files.submitter_key, files.period, false as is_expected_submitter,
        files.submitter_level as file_submitter_level
    from files
    anti join expected on expected.stream = files.stream and expected.submitter_key = files.submitter_key
),

wide_latest as (
    -- latest versions of village-stream submissions sent for more than one village
    select stg.*, chain.first_received_at
    from staging.stg_submissions as stg
    inner join (
        select stream, submitter_code, period, min(received_at) as first_received_at
        from staging.stg_submissions
        where not is_set_aside
        group by all
    ) as chain using (stream, submitter_code, period)
    where stg.is_latest_version and stg.submitter_level in ('district', 'regency', 'province')
),

wide_rows as (
    select 'child_measurements' as stream, submission_id, village_code
    from raw.child_measurements semi join wide_latest using (submission_id)
    union all
    select 'households' as stream, submission_id, village_code
    from raw.households semi join wide_latest using (submission_id)
    union all
    select 'village_scorecard' as stream, submission_id, village_code
    from raw.village_scorecard semi join wide_latest using (submission_id)
),

covered as (
    -- every village whose rows a wide file's latest version holds: reported by that file, since its first version
    select
        wide_rows.stream,
        wide_rows.village_code as submitter_key,
        wide_latest.period,
        min(wide_latest.first_received_at) as first_received_at,
        max(wide_latest.received_at) as last_received_at,
        arg_max(wide_latest.submission_id, wide_latest.received_at) as covering_submission_id,
        count(*) as n_rows_accepted
    from wide_rows
    inner join wide_latest on wide_latest.submission_id = wide_rows.submission_id
    where wide_rows.village_code is not null
    group by all
),

per_key as (
    select
        stream,
        submitter_key,
        period,
        count(*) filter (where status = 'accepted' and not is_set_aside) as n_submissions,
        count(*) filter (where is_set_aside) as n_set_aside,
        count(*) filter (where status <> 'accepted') as n_files_rejected,
        min(received_at) filter (where status = 'accepted' and not is_set_aside) as first_received_at,
        max(received_at) filter (where status = 'accepted' and not is_set_aside) as last_received_at,
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
        coalesce(submitter_periods.file_submitter_level, streams.submitter_level) as submitter_level,
        submitter_periods.submitter_key,
        submitter_periods.is_expected_submitter,
        submitter_periods.period,
        -- due by the end of the N-th day after the period ends
        (periods.period_end_date + to_days(streams.deadline_days_after_period_end))::date as deadline_date
    from submitter_periods
    inner join streams on streams.stream = submitter_periods.stream
    inner join periods on periods.stream = submitter_periods.stream and periods.period = submitter_periods.period
),

reported as (
    -- when a submitter reported: its own accepted files, or for a village a wider file holding its rows
    select
        grid.*,
        least(per_key.first_received_at, covered.first_received_at) as first_received_at,
        greatest(per_key.last_received_at, covered.last_received_at) as last_received_at,
        coalesce(per_key.n_submissions, 0) as n_submissions,
        coalesce(per_key.n_set_aside, 0) as n_set_aside,
        coalesce(per_key.n_files_rejected, 0) as n_files_rejected,
        per_key.last_rejected_at,
        latest.latest_version,
        latest.latest_submission_id,
        latest.n_rows_accepted,
        latest.n_rows_rejected,
        covered.covering_submission_id,
        covered.n_rows_accepted as n_rows_covered,
        coalesce(per_key.n_submissions, 0) > 0 or covered.covering_submission_id is not null as is_submitted
    from grid
    left join per_key
        on per_key.stream = grid.stream
        and per_key.submitter_key = grid.submitter_key
        and per_key.period = grid.period
    left join latest
        on latest.stream = grid.stream
        and latest.submitter_key = grid.submitter_key
        and latest.period = grid.period
    left join covered
        on covered.stream = grid.stream
        and covered.submitter_key = grid.submitter_key
        and covered.period = grid.period
),

final as (
    select
        reported.stream,
        reported.submitter_level,
        reported.submitter_key as submitter_code,
        case when reported.submitter_level <> 'opd' then region.region_code end as region_code,
        case when reported.submitter_level = 'opd' then reported.submitter_key end as opd_code,
        reported.period,
        reported.is_expected_submitter,
        reported.is_submitted,
        case
            when reported.is_submitted and (reported.first_received_at + interval 7 hour)::date > reported.deadline_date
                then 'late'
            when reported.is_submitted then 'on_time'
            when reported.n_set_aside > 0 then 'set_aside'
            when reported.n_files_rejected > 0 then 'rejected_only'
            else 'missing'
        end as submission_status,
        reported.n_submissions,
        reported.latest_version,
        reported.latest_submission_id,
        -- only when the village sent no file of its own for the period
        case when reported.latest_submission_id is null then reported.covering_submission_id end
            as covering_submission_id,
        reported.first_received_at,
        reported.last_received_at,
        reported.deadline_date,
        -- received_at is UTC; the deadline is a calendar day in WIB (UTC+7)
        case
            when reported.first_received_at is not null
                then greatest(
                    date_diff('day', reported.deadline_date, (reported.first_received_at + interval 7 hour)::date), 0
                )
        end as days_late,
        coalesce(reported.n_rows_accepted, reported.n_rows_covered, 0) as n_rows_accepted,
        coalesce(reported.n_rows_rejected, 0) as n_rows_quarantined,
        reported.n_files_rejected,
        reported.last_rejected_at,
        reported.n_set_aside
    from reported
    left join marts.dim_region as region on region.region_code = reported.submitter_key
)

select * from final
order by stream, period, submitter_code
