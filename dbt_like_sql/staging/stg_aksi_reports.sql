-- one row per regency x year x convergence action (aksi 1-8) as reported (latest submission version, last row).
with submissions as (
    select * from staging.stg_submissions
    where stream = 'aksi_reports' and is_latest_version
),

reports as (
    select
        rows.*,
        submissions.version,
        submissions.received_at
    from raw.aksi_reports as rows
    inner join submissions using (submission_id)
),

ranked as (
    select
        *,
        row_number() over (
            partition by regency_code, year, action_no
            order by received_at desc, version desc, submission_id desc, row_number desc
        ) as duplicate_rank
    from reports
),

final as (
    select
        regency_code,
        year::integer as year,
        action_no::integer as action_no,
        action_name,
        status,
        n_evidence::integer as n_evidence,
        evidence_docs,
        completed_on,
        grade,
        score,
        category as performance_category,
        officer_id,
        submission_id,
        row_number as source_row_number
    from ranked
    where duplicate_rank = 1
)

select * from final
