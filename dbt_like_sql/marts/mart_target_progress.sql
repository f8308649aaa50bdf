-- one row per regency and for the province x year: stunting (routine and survey, side by side, never averaged),
-- extreme poverty (registered and BPS) against their targets, actions completed, OPD realisation and a status.
with regions as (
    select region_code, region_level, region_name
    from marts.dim_region
    where region_level in ('regency', 'province')
),

n_regencies as (
    -- regencies per province (the province code is the first two digits of a Kemendagri code)
    select left(region_code, 2) as province_code, count(*) as n from regions where region_level = 'regency' group by 1
),

routine as (
    -- the latest month of the year with measured children stands for the year
    select
        region_code,
        left(period, 4)::integer as year,
        period as routine_period,
        n_children as n_children_routine,
        pct_prevalence as pct_stunting_routine
    from marts.fct_stunting_prevalence
    where indicator = 'stunting' and region_level in ('regency', 'province') and n_children > 0
    qualify row_number() over (partition by region_code, left(period, 4) order by period desc) = 1
),

survey as (
    select * from staging.stg_survey_figures
),

province_survey as (
    -- a provincial survey figure is derived only when every regency submitted it: balita-weighted mean
    select
        left(survey.regency_code, 2) as region_code,
        survey.year,
        case
            when count(survey.stunting_ssgi_pct) = any_value(n_regencies.n)
                then sum(survey.stunting_ssgi_pct * survey.balita_estimate) / sum(survey.balita_estimate)
        end as stunting_ssgi_pct,
        case
            when count(survey.stunting_ski_pct) = any_value(n_regencies.n)
                then sum(survey.stunting_ski_pct * survey.balita_estimate) / sum(survey.balita_estimate)
        end as stunting_ski_pct
    from survey
    inner join n_regencies on n_regencies.province_code = left(survey.regency_code, 2)
    where survey.balita_estimate is not null
    group by left(survey.regency_code, 2), survey.year
),

survey_by_region as (
    select regency_code as region_code, year, stunting_ssgi_pct, stunting_ski_pct from survey
    union all
    select region_code, year, stunting_ssgi_pct, stunting_ski_pct from province_survey
),

poverty as (
    select * from marts.fct_extreme_poverty
    where region_level in ('regency', 'province')
),

actions as (
    select
        regions.region_code,
        status.year,
        count(*) filter (where status.is_completed) as n_actions_completed,
        count(*) as n_actions_expected
    from marts.fct_convergence_action_status as status
    inner join regions
        on regions.region_code = status.regency_code
        or (regions.region_level = 'province' and left(status.regency_code, 2) = regions.region_code)
    group by all
),

opd_latest as (
    -- realisation is reported year-to-date, so each activity's latest quarter of the year counts
    select * from marts.fct_opd_programme
    qualify row_number() over (partition by opd_code, activity, region_code, year order by quarter desc) = 1
),

opd as (
    select
        regions.region_code,
        opd_latest.year,
        sum(opd_latest.budget_rp) as opd_budget_rp,
        sum(opd_latest.realisation_rp) as opd_realisation_rp
    from opd_latest
    inner join regions
        on regions.region_code = opd_latest.region_code
        or regions.region_level = 'province'
    group by all
),

years as (
    select year from routine
    union select year from survey
    union select year from poverty
    union select year from actions
    union select year from opd
),

stunting_targets as (
    -- a year without its own target uses the next target year; after the last one, the last target
    select
        years.year,
        coalesce(
            min(settings.target_year) filter (where settings.target_year >= years.year), max(settings.target_year)
        ) as target_year
    from years
    cross join reference.target_settings as settings
    where settings.indicator = 'stunting'
    group by years.year
),

joined as (
    select
        regions.region_code,
        regions.region_level,
        regions.region_name,
        years.year,
        routine.routine_period,
        routine.n_children_routine,
        routine.pct_stunting_routine,
        round(survey_by_region.stunting_ssgi_pct, 2) as pct_stunting_ssgi,
        round(survey_by_region.stunting_ski_pct, 2) as pct_stunting_ski,
        stunting_targets.target_year as stunting_target_year,
        settings.pct_target as pct_target_stunting,
        case
            when survey_by_region.stunting_ssgi_pct is not null then 'ssgi'
            when survey_by_region.stunting_ski_pct is not null then 'ski'
            when routine.pct_stunting_routine is not null then 'routine'
        end as stunting_status_basis,
        coalesce(
            survey_by_region.stunting_ssgi_pct, survey_by_region.stunting_ski_pct, routine.pct_stunting_routine
        ) as pct_stunting_for_status,
        poverty.pct_extreme_poor_registered,
        poverty.pct_extreme_poverty_bps,
        poverty.pct_target_extreme_poverty,
        actions.n_actions_completed,
        actions.n_actions_expected,
        opd.opd_budget_rp,
        opd.opd_realisation_rp,
        round(100.0 * opd.opd_realisation_rp / nullif(opd.opd_budget_rp, 0), 2) as pct_opd_realisation
    from regions
    cross join years
    left join routine on routine.region_code = regions.region_code and routine.year = years.year
    left join survey_by_region
        on survey_by_region.region_code = regions.region_code and survey_by_region.year = years.year
    left join stunting_targets on stunting_targets.year = years.year
    left join reference.target_settings as settings
        on settings.indicator = 'stunting' and settings.target_year = stunting_targets.target_year
    left join poverty on poverty.region_code = regions.region_code and poverty.year = years.year
    left join actions on actions.region_code = regions.region_code and actions.year = years.year
    left join opd on opd.region_code = regions.region_code and opd.year = years.year
),

final as (
    select
        region_code,
        region_level,
        region_name,
        year,
        routine_period,
        n_children_routine,
        pct_stunting_routine,
        pct_stunting_ssgi,
        pct_stunting_ski,
        stunting_target_year,
        pct_target_stunting,
        stunting_status_basis,
        round(pct_stunting_for_status - pct_target_stunting, 2) as pct_stunting_gap_to_target,
        pct_extreme_poor_registered,
        pct_extreme_poverty_bps,
        pct_target_extreme_poverty,
        n_actions_completed,
        n_actions_expected,
        round(100.0 * n_actions_completed / nullif(n_actions_expected, 0), 2) as pct_actions_completed,
        opd_budget_rp,
        opd_realisation_rp,
        pct_opd_realisation,
        -- rule documented in docs/marts.md: stunting gap in percentage points, and share of the 8 actions done
        case
            when pct_stunting_for_status - pct_target_stunting > 5
                or 1.0 * n_actions_completed / nullif(n_actions_expected, 0) < 0.5
                then 'off_track'
            when pct_stunting_for_status <= pct_target_stunting
                and coalesce(1.0 * n_actions_completed / nullif(n_actions_expected, 0) >= 0.75, true)
                then 'on_track'
            else 'at_risk'
        end as status
    from joined
)

select * from final
order by year, region_level desc, region_code
