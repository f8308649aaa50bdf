-- one row per priority (lokus) village per year, as decreed by its regency (latest submission version).
with submissions as (
    select * from staging.stg_submissions
    where stream = 'lokus_villages' and is_latest_version
),

lokus as (
    select
        rows.*,
        submissions.version,
        submissions.received_at
    from raw.lokus_villages as rows
    inner join submissions using (submission_id)
),

ranked as (
    select
        *,
        row_number() over (
            partition by village_code, year
            order by received_at desc, version desc, submission_id desc, row_number desc
        ) as duplicate_rank
    from lokus
),

final as (
    select
        village_code,
        year::integer as year,
        regency_code,
        decree_no,
        submission_id,
        row_number as source_row_number
    from ranked
    where duplicate_rank = 1
)

select * from final
