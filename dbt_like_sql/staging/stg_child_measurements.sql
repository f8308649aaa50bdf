-- One row per pseudonymous child per measurement date within a reporting month: the latest submission version wins, then the last row.
with submissions as (
    select * from staging.stg_submissions
    where stream = 'child_measurements' and is_latest_version
),

measurements as (
    select
        rows.*,
        submissions.period,
        submissions.version,
        submissions.received_at
    from raw.child_measurements as rows
    inner join submissions using (submission_id)
),

ranked as (
    select
        *,
        row_number() over (
            partition by period, child_id, measured_on
            order by received_at desc, version desc, submission_id desc, row_number desc
        ) as duplicate_rank
    from measurements
),

final as (
    select
        child_id,
        submission_id,
        row_number as source_row_number,
        period,
        village_code,
        puskesmas,
        posyandu,
        sex,
        birth_date,
        measured_on,
        date_diff('day', birth_date, measured_on) as age_days,
        age_days_export,
        weight_kg,
        lenhei_cm,
        measure,
        muac_cm,
        haz_export,
        waz_export,
        whz_export,
        nik_valid
    from ranked
    where duplicate_rank = 1
)

select * from final
