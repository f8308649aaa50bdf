-- One row per regency per year: published survey prevalence, BPS extreme poverty and the balita estimate (latest version).
with submissions as (
    select * from staging.stg_submissions
    where stream = 'survey_figures' and is_latest_version
),

figures as (
    select
        rows.*,
        submissions.received_at,
        submissions.version
    from raw.survey_figures as rows
    inner join submissions using (submission_id)
),

ranked as (
    select
        *,
        row_number() over (
            partition by regency_code, year order by received_at desc, version desc, row_number desc
        ) as duplicate_rank
    from figures
)

select
    regency_code,
    year,
    stunting_ssgi_pct,
    stunting_ski_pct,
    extreme_poverty_bps_pct,
    population,
    balita_estimate,
    submission_id
from ranked
where duplicate_rank = 1
