-- one row per stream x submitter x period x how it was refused (file, row or value) x reason x column: what did not
-- reach the marts, counted, for BI. The refused rows' payloads, file names and details stay in the working file's
-- quarantine schema, which is never published.
with submissions as (
    select submission_id, submitter_level, submitter_code, period
    from raw.submissions
),

refusals as (
    select stream, submission_id, 'file' as refused_as, reason_code, null::varchar as column_name,
        null::integer as row_number, rejected_at
    from quarantine.rejected_files
    union all
    select stream, submission_id, 'row', reason_code, column_name, row_number, rejected_at
    from quarantine.rejected_rows
    union all
    select stream, submission_id, 'value', reason_code, column_name, row_number, rejected_at
    from quarantine.rejected_values
),

final as (
    select
        refusals.stream,
        submissions.submitter_level,
        submissions.submitter_code,
        submissions.period,
        refusals.refused_as,
        refusals.reason_code,
        refusals.column_name,
        count(distinct refusals.submission_id) as n_submissions,
        count(distinct refusals.submission_id || ':' || refusals.row_number) as n_rows,
        count(*) as n_refusals,
        max(refusals.rejected_at) as last_rejected_at
    from refusals
    left join submissions using (submission_id)
    group by all
)

select * from final
order by stream, submitter_code, period, refused_as, reason_code, column_name
