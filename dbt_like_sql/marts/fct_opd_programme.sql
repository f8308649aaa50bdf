-- one row per OPD x activity x target region x quarter: budget (pagu), realisation, intervention type and
-- whether the activity reaches that year's lokus villages. Report lines for the same key are added up.
with programmes as (
    select
        *,
        -- no target regency written: the activity is province-wide
        coalesce(target_region_code, '36') as region_code
    from staging.stg_opd_programmes
),

lokus as (
    select village_code, year from staging.stg_lokus_villages
),

target_villages as (
    select distinct
        programmes.opd_code,
        programmes.activity,
        programmes.region_code,
        programmes.period,
        programmes.year,
        trim(village.code) as village_code
    from programmes
    cross join unnest(string_split(programmes.target_village_codes, ',')) as village (code)
    where trim(village.code) <> ''
),

village_reach as (
    select
        target_villages.opd_code,
        target_villages.activity,
        target_villages.region_code,
        target_villages.period,
        count(*) as n_target_villages,
        count(lokus.village_code) as n_lokus_villages_targeted
    from target_villages
    left join lokus
        on lokus.village_code = target_villages.village_code
        and lokus.year = target_villages.year
    group by all
),

lokus_years as (
    select distinct year from lokus
),

activities as (
    select
        opd_code,
        activity,
        region_code,
        period,
        any_value(year) as year,
        any_value(quarter) as quarter,
        min(programme) as programme,
        -- one activity is one kind of intervention; mixed lines say so rather than pick one
        case when count(distinct intervention_type) > 1 then 'mixed' else min(intervention_type) end
            as intervention_type,
        count(*) as n_report_lines,
        sum(budget_rp)::bigint as budget_rp,  -- BIGINT, not the HUGEINT sum() gives: BI tools map it
        sum(realisation_rp)::bigint as realisation_rp,
        sum(output_target) as output_target,
        sum(output_achieved) as output_achieved,
        min(output_unit) as output_unit,
        min(submission_id) as submission_id
    from programmes
    group by opd_code, activity, region_code, period
),

final as (
    select
        activities.opd_code,
        activities.activity,
        activities.region_code,
        activities.period,
        activities.year,
        activities.quarter,
        activities.programme,
        activities.intervention_type,
        activities.n_report_lines,
        activities.budget_rp,
        activities.realisation_rp,
        round(100.0 * activities.realisation_rp / nullif(activities.budget_rp, 0), 2) as pct_realisation,
        activities.output_target,
        activities.output_achieved,
        activities.output_unit,
        coalesce(village_reach.n_target_villages, 0) as n_target_villages,
        coalesce(village_reach.n_lokus_villages_targeted, 0) as n_lokus_villages_targeted,
        -- unknown (null) when no lokus list exists yet for the year
        case
            when lokus_years.year is null then null
            else coalesce(village_reach.n_lokus_villages_targeted, 0) > 0
        end as is_reaching_lokus,
        activities.submission_id
    from activities
    left join village_reach
        on village_reach.opd_code = activities.opd_code
        and village_reach.activity = activities.activity
        and village_reach.region_code = activities.region_code
        and village_reach.period = activities.period
    left join lokus_years on lokus_years.year = activities.year
)

select * from final
order by period, opd_code, activity, region_code
