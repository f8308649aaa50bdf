-- one row per P3KE household (keluarga) per year: the latest submission version of each village wins, then the last row.
with submissions as (
    select * from staging.stg_submissions
    where stream = 'households' and is_latest_version
),

households as not materialized (
    select
        rows.*,
        submissions.period,
        submissions.version,
        submissions.received_at,
        hash(rows.household_id, submissions.period) as key_hash
    from raw.households as rows
    inner join submissions using (submission_id)
),

repeated as (
    -- the households listed more than once (and any other sharing a hash with one: ranked exactly
    -- below too, so a collision costs time, never a row); only those rows are ranked, as in
    -- stg_child_measurements
    select key_hash from households group by key_hash having count(*) > 1
),

ranked as (
    select
        * exclude (key_hash),
        -- a household listed by two villages (moved, or sent twice) counts once: the newest file wins
        row_number() over (
            partition by household_id, period
            order by received_at desc, version desc, submission_id desc, row_number desc
        ) as duplicate_rank
    from households
    where key_hash in (select key_hash from repeated)
),

deduplicated as (
    select * exclude (key_hash) from households
    where key_hash not in (select key_hash from repeated)
    union all
    select * exclude (duplicate_rank) from ranked
    where duplicate_rank = 1
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
    from deduplicated
)

select * from final
