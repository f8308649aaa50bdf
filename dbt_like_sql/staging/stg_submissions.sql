-- One row per accepted submission, with whether it is the latest version for its stream, submitter and period.
with submissions as (
    select * from raw.submissions
    where status = 'accepted'
),

ranked as (
    select
        *,
        row_number() over (
            partition by stream, submitter_code, period
            order by version desc, received_at desc, submission_id desc
        ) = 1 as is_latest_version
    from submissions
)

select
    submission_id,
    stream,
    submitter_level,
    submitter_code,
    period,
    version,
    is_latest_version,
    file_name,
    file_format,
    transport,
    received_at,
    content_sha256,
    n_source_rows,
    n_rows_accepted,
    n_rows_rejected
from ranked
