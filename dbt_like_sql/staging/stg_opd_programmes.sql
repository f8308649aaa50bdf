-- one row per source row of the latest OPD programme report (OPD x quarter x activity x target regency line).
with submissions as (
    select * from staging.stg_submissions
    where stream = 'opd_programmes' and is_latest_version
),

programmes as (
    select
        rows.*,
        submissions.submitter_code
    from raw.opd_programmes as rows
    inner join submissions using (submission_id)
),

final as (
    select
        -- the code inside the file is authoritative; the file name's submitter code is the fallback
        upper(coalesce(opd_code, submitter_code)) as opd_code,
        opd_name,
        year::integer as year,
        quarter::integer as quarter,
        year::varchar || '-Q' || quarter::varchar as period,
        programme,
        activity,
        intervention_type,
        regency_code as target_region_code,
        nullif(trim(village_codes), '') as target_village_codes,
        budget_rp,
        realisation_rp,
        output_target,
        output_unit,
        output_achieved,
        submission_id,
        row_number as source_row_number
    from programmes
)

select * from final
