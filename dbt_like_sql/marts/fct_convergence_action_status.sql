-- one row per regency x year x convergence action (aksi 1-8): every regency and action for every year with any
-- aksi submission, so a missing report shows as status not_reported instead of a missing row.
with regencies as (
    select region_code as regency_code
    from marts.dim_region
    where region_level = 'regency'
),

actions as (
    select * from marts.dim_convergence_action
),

reports as (
    select * from staging.stg_aksi_reports
),

run_date as (
    select max(as_of_date) as as_of_date from reference.run_date
),

years as (
    -- a year counts once any regency sent an aksi file for it, even a file that was rejected
    select distinct left(period, 4)::integer as year
    from raw.submissions
    where stream = 'aksi_reports' and regexp_matches(period, '^[0-9]{4}')
    union
    select distinct year from reports
),

spine as (
    select
        regencies.regency_code,
        years.year,
        actions.action_no,
        make_date(
            years.year + actions.deadline_year_offset, actions.deadline_month, actions.deadline_day
        ) as deadline_date
    from regencies
    cross join years
    cross join actions
),

final as (
    select
        spine.regency_code,
        spine.year,
        spine.action_no,
        coalesce(reports.status, 'not_reported') as status,
        reports.regency_code is not null as is_reported,
        coalesce(reports.status in ('uploaded', 'verified'), false) as is_completed,
        coalesce(reports.status = 'verified', false) as is_verified,
        coalesce(reports.n_evidence, 0) as n_evidence,
        reports.completed_on,
        spine.deadline_date,
        reports.completed_on > spine.deadline_date as is_late,
        case
            when reports.completed_on > spine.deadline_date
                then date_diff('day', spine.deadline_date, reports.completed_on)
            when reports.completed_on is not null then 0
        end as days_late,
        -- overdue: not completed and its deadline has passed on the run date (late completions are is_late);
        -- is_completed and is_overdue are this select's own columns (DuckDB reuses a select alias)
        not is_completed and spine.deadline_date < run_date.as_of_date as is_overdue,
        case when is_overdue then date_diff('day', spine.deadline_date, run_date.as_of_date) end as days_overdue,
        run_date.as_of_date,
        reports.grade,
        reports.score,
        reports.performance_category,
        reports.submission_id
    from spine
    cross join run_date
    left join reports
        on reports.regency_code = spine.regency_code
        and reports.year = spine.year
        and reports.action_no = spine.action_no
)

select * from final
order by year, regency_code, action_no
