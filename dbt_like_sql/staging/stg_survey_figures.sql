-- One row per regency, or the province, per year: published survey prevalence, BPS extreme poverty and the
-- population and under-five (balita) estimates (latest submission version, last row). A province row is the
-- province's own published figure (Kode Kab/Kota holds the 2-digit province code).
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
    regency_code as region_code,
    case when length(regency_code) = 2 then 'province' else 'regency' end as region_level,
    year,
    stunting_ssgi_pct,
    stunting_ski_pct,
    extreme_poverty_bps_pct,
    -- a denominator of 0 or less is refused at ingestion; this keeps an older raw row from dividing by it
    case when population > 0 then population end as population,
    case when balita_estimate > 0 then balita_estimate end as balita_estimate,
    submission_id
from ranked
where duplicate_rank = 1
