-- One row per pseudonymous child per measurement date within a reporting month: the latest submission version wins, then the last row.
with submissions as (
    select * from staging.stg_submissions
    where stream = 'child_measurements' and is_latest_version
),

measurements as not materialized (
    select
        rows.*,
        submissions.period,
        submissions.version,
        submissions.received_at,
        hash(submissions.period, rows.child_id, rows.measured_on) as key_hash
    from raw.child_measurements as rows
    inner join submissions using (submission_id)
),

repeated as (
    -- the keys sent more than once (and any other key that happens to share a hash with one: those
    -- are ranked exactly below too, so a collision costs time, never a row). A month repeats few keys
    -- (0.4 % of the national month's rows): ranking only those rows, not all of them, took the
    -- national month's 25 M rows from a 75 CPU s window (spilling 3.6 GB) to a count per hash.
    select key_hash from measurements group by key_hash having count(*) > 1
),

ranked as (
    select
        * exclude (key_hash),
        row_number() over (
            partition by period, child_id, measured_on
            order by received_at desc, version desc, submission_id desc, row_number desc
        ) as duplicate_rank
    from measurements
    where key_hash in (select key_hash from repeated)
),

deduplicated as (
    select * exclude (key_hash) from measurements
    where key_hash not in (select key_hash from repeated)
    union all
    select * exclude (duplicate_rank) from ranked
    where duplicate_rank = 1
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
    from deduplicated
)

select * from final
