-- One row per accepted submission, with whether it is the latest version for its stream, submitter and period.
with submissions as (
    select * from raw.submissions
    where status = 'accepted'
),

exclusion_events as (
    select * from raw.submission_exclusions
),

set_aside as (
    -- an operator's latest word on a submission wins: set_aside, or reinclude to undo it
    select submission_id, reason as set_aside_reason, operator as set_aside_by, decided_at as set_aside_at
    from exclusion_events
    qualify row_number() over (partition by submission_id order by decided_at desc, action desc) = 1
        and action = 'set_aside'
),

marked as (
    select
        submissions.*,
        set_aside.submission_id is not null as is_set_aside,
        set_aside.set_aside_reason,
        set_aside.set_aside_by,
        set_aside.set_aside_at
    from submissions
    left join set_aside using (submission_id)
),

ranked as (
    -- a set-aside submission leaves the version chain: the highest version not set aside is the latest
    select
        *,
        not is_set_aside and row_number() over (
            partition by stream, submitter_code, period
            order by is_set_aside, version desc, received_at desc, submission_id desc
        ) = 1 as is_latest_version
    from marked
)

select
    submission_id,
    stream,
    submitter_level,
    submitter_code,
    period,
    version,
    is_latest_version,
    is_set_aside,
    set_aside_reason,
    set_aside_by,
    set_aside_at,
    file_name,
    file_format,
    transport,
    received_at,
    content_sha256,
    n_source_rows,
    n_rows_accepted,
    n_rows_rejected
from ranked
