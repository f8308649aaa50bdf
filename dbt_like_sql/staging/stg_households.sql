-- one row per P3KE household (keluarga) per year: the latest submission version of each village wins, then the last row.
with submissions as (
    select * from staging.stg_submissions
    where stream = 'households' and is_latest_version
),

households as (
    select
        rows.*,
        submissions.period,
        submissions.version,
        submissions.received_at
    from raw.households as rows
    inner join submissions using (submission_id)
),

ranked as (
    select
        *,
        -- a household listed by two villages (moved, or sent twice) counts once: the newest file wins
        row_number() over (
            partition by household_id, period
            order by received_at desc, version desc, submission_id desc, row_number desc
        ) as duplicate_rank
    from households
),

final as (
    select
        household_id,
        period::integer as year,
        village_code,
        welfare_decile::integer as welfare_decile,
        n_members::integer as n_members,
        head_id,
        nik_valid,
        nik_matched,
        head_sex::integer as head_sex,
        receives_pkh,
        receives_bpnt,
        receives_sembako,
        receives_bpum,
        receives_bst,
        stunting_risk,
        has_savings,
        submission_id,
        row_number as source_row_number
    from ranked
    where duplicate_rank = 1
)

select * from final
