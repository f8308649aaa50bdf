-- one row per village per quarter: the village convergence scorecard (latest submission version, last row).
with submissions as (
    select * from staging.stg_submissions
    where stream = 'village_scorecard' and is_latest_version
),

scorecards as (
    select
        rows.*,
        submissions.version,
        submissions.received_at
    from raw.village_scorecard as rows
    inner join submissions using (submission_id)
),

ranked as (
    select
        *,
        row_number() over (
            partition by village_code, year, quarter
            order by received_at desc, version desc, submission_id desc, row_number desc
        ) as duplicate_rank
    from scorecards
),

final as (
    select
        village_code,
        year::integer as year,
        quarter::integer as quarter,
        year::varchar || '-Q' || quarter::varchar as period,
        rembuk_held,
        kpm_active,
        n_posyandu::integer as n_posyandu,
        n_posyandu_active::integer as n_posyandu_active,
        dana_desa_stunting_rp,
        n_target_households::integer as n_target_households,
        n_reached_kia::integer as n_reached_kia,
        n_reached_nutrition::integer as n_reached_nutrition,
        n_reached_wash::integer as n_reached_wash,
        n_reached_social::integer as n_reached_social,
        n_reached_paud::integer as n_reached_paud,
        kpm_id,
        submission_id,
        row_number as source_row_number
    from ranked
    where duplicate_rank = 1
)

select * from final
