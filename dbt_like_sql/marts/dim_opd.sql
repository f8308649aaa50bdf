-- one row per provincial OPD: the known list plus any OPD code seen in a submission or report row.
with known as (
    select * from reference.known_opds
),

submitted as (
    -- codes from file names and from rows; the last name an OPD wrote for itself is kept
    select
        upper(submitter_code) as opd_code,
        null::varchar as opd_name,
        period,
        received_at
    from raw.submissions
    where stream = 'opd_programmes' and submitter_code is not null
    union all
    select
        programmes.opd_code,
        programmes.opd_name,
        programmes.period,
        submissions.received_at
    from staging.stg_opd_programmes as programmes
    inner join staging.stg_submissions as submissions using (submission_id)
),

seen as (
    select
        opd_code,
        arg_max(opd_name, received_at) filter (where opd_name is not null) as submitted_name,
        min(period) as first_period,
        max(period) as last_period
    from submitted
    group by opd_code
),

final as (
    select
        coalesce(known.opd_code, seen.opd_code) as opd_code,
        coalesce(known.opd_name, seen.submitted_name, coalesce(known.opd_code, seen.opd_code)) as opd_name,
        known.opd_name_en,
        known.opd_code is not null as is_expected_submitter,
        seen.opd_code is not null as has_submitted,
        seen.first_period,
        seen.last_period
    from known
    full outer join seen on seen.opd_code = known.opd_code
)

select * from final
order by opd_code
