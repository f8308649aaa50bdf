-- One row per landed measurement row that lost to a newer version or a later row for the same child and date, or whose submission an operator set aside.
with staged as (
    select submission_id, source_row_number from staging.stg_child_measurements
),

landed as (
    select
        rows.submission_id,
        rows.row_number,
        rows.child_id,
        rows.measured_on,
        submissions.period,
        submissions.is_latest_version,
        submissions.is_set_aside
    from raw.child_measurements as rows
    inner join staging.stg_submissions as submissions using (submission_id)
),

final as (
    select
        landed.submission_id,
        landed.row_number,
        landed.child_id,
        landed.measured_on,
        landed.period,
        case
            -- an operator set the whole submission aside: its rows are kept here, not lost
            when landed.is_set_aside then 'set_aside'
            when landed.is_latest_version then 'duplicate_child_date'
            else 'superseded_version'
        end as reason_code
    from landed
    anti join staged
        on staged.submission_id = landed.submission_id
        and staged.source_row_number = landed.row_number
)

select * from final
