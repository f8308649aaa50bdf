-- one row per regency and for the province x year: stunting judged on survey prevalence (SSGI/SKI) against the
-- year's target, routine e-PPGBM prevalence beside it as a trend (pooled and balita-weighted, never the basis of the
-- status), extreme poverty with its coverage, convergence actions with their own status, and OPD realisation.
-- Rules and their sources: docs/marts.md.
with regions as (
    select region_code, region_level, region_name
    from marts.dim_region
    where region_level in ('regency', 'province')
),

settings as (
    select
        max(value) filter (where setting = 'stunting_off_track_margin_pp') as off_track_margin_pp,
        max(value) filter (where setting = 'survey_max_age_years') as survey_max_age_years,
        max(value) filter (where setting = 'actions_on_track_share') as actions_on_track_share,
        max(value) filter (where setting = 'actions_off_track_share') as actions_off_track_share
    from reference.progress_settings
),

routine as (
    -- the latest month of the year with measured children stands for the year
    select
        region_code,
        left(period, 4)::integer as year,
        period as routine_period,
        n_children as n_children_routine,
        pct_prevalence_pooled as pct_stunting_routine_pooled,
        pct_prevalence_balita_weighted as pct_stunting_routine_balita_weighted,
        pct_balita_in_weighted as pct_balita_in_routine_weighted
    from marts.fct_stunting_prevalence
    where indicator = 'stunting' and region_level in ('regency', 'province') and n_children > 0
    qualify row_number() over (partition by region_code, left(period, 4) order by period desc) = 1
),

survey as (
    select * from staging.stg_survey_figures
),

province_derived as (
    -- a province survey figure derived from its regencies only when every regency has one: balita-weighted mean
    select
        left(survey.region_code, 2) as region_code,
        survey.year,
        case
            when count(survey.stunting_ssgi_pct * survey.balita_estimate) = any_value(n_regencies.n)
                then sum(survey.stunting_ssgi_pct * survey.balita_estimate) / sum(survey.balita_estimate)
        end as stunting_ssgi_pct,
        case
            when count(survey.stunting_ski_pct * survey.balita_estimate) = any_value(n_regencies.n)
                then sum(survey.stunting_ski_pct * survey.balita_estimate) / sum(survey.balita_estimate)
        end as stunting_ski_pct
    from survey
    inner join (
        select province_code, count(*) as n from marts.dim_region where region_level = 'regency' group by 1
    ) as n_regencies on n_regencies.province_code = left(survey.region_code, 2)
    where survey.region_level = 'regency'
    group by all
),

survey_figures_all as (
    -- one row per region x survey year x survey (unpivot drops the empty ones)
    unpivot (
        select region_code, year, stunting_ssgi_pct as "SSGI", stunting_ski_pct as "SKI", 'published' as basis
        from survey
        union all
        select region_code, year, stunting_ssgi_pct, stunting_ski_pct, 'derived_from_regencies'
        from province_derived
    ) on "SSGI", "SKI" into name survey_name value pct
),

survey_figures as (
    -- a derived province figure only where the province published none for that survey and year
    select * from survey_figures_all
    qualify basis = 'published'
        or count(*) filter (where basis = 'published') over (partition by region_code, year, survey_name) = 0
),

poverty as (
    select * from marts.fct_extreme_poverty
    where region_level in ('regency', 'province')
),

actions as (
    select
        regions.region_code,
        status.year,
        count(distinct status.regency_code) filter (where status.is_reported) as n_regencies_reporting_actions,
        count(*) filter (where status.is_reported) as n_actions_reported,
        count(*) filter (where status.is_completed) as n_actions_completed,
        count(*) filter (where status.is_overdue) as n_actions_overdue
    from marts.fct_convergence_action_status as status
    inner join regions
        on regions.region_code = status.regency_code
        or (regions.region_level = 'province' and left(status.regency_code, 2) = regions.region_code)
    group by all
),

n_regencies as (
    select province_code, count(*) as n from marts.dim_region where region_level = 'regency' group by 1
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
        sum(opd_latest.budget_rp)::bigint as opd_budget_rp,
        sum(opd_latest.realisation_rp)::bigint as opd_realisation_rp
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

latest_survey as (
    -- the latest survey of the year or of the survey_max_age_years before it; SSGI before SKI in the same year
    select
        regions.region_code,
        years.year,
        survey_figures.survey_name,
        survey_figures.year as survey_year,
        survey_figures.pct,
        survey_figures.basis
    from regions
    cross join years
    cross join settings
    inner join survey_figures
        on survey_figures.region_code = regions.region_code
        and survey_figures.year between years.year - settings.survey_max_age_years and years.year
    qualify row_number() over (
        partition by regions.region_code, years.year
        order by survey_figures.year desc, survey_figures.survey_name = 'SSGI' desc
    ) = 1
),

targets as (
    select year, pct_target, source from reference.target_settings where indicator = 'stunting' and scope = 'national'
),

rpjmd_targets as (
    select region_code, year, pct_target from reference.target_settings where indicator = 'stunting' and scope = 'rpjmd'
),

joined as (
    select
        regions.region_code,
        regions.region_level,
        regions.region_name,
        years.year,
        latest_survey.survey_name,
        latest_survey.survey_year,
        round(latest_survey.pct, 2) as pct_stunting_survey,
        latest_survey.basis as survey_figure_basis,
        targets.pct_target as pct_target_stunting,
        targets.source as stunting_target_source,
        rpjmd_targets.pct_target as pct_target_stunting_rpjmd,
        routine.routine_period,
        routine.n_children_routine,
        routine.pct_stunting_routine_pooled,
        routine.pct_stunting_routine_balita_weighted,
        routine.pct_balita_in_routine_weighted,
        poverty.pct_extreme_poor_registered,
        poverty.pct_extreme_poor_registered_missing_reason,
        poverty.n_villages_reporting as n_villages_reporting_p3ke,
        poverty.n_villages,
        poverty.pct_villages_reporting as pct_villages_reporting_p3ke,
        poverty.population_covered as population_covered_p3ke,
        poverty.pct_population_covered as pct_population_covered_p3ke,
        poverty.pct_extreme_poverty_bps,
        poverty.extreme_poverty_bps_basis,
        poverty.pct_target_extreme_poverty,
        coalesce(actions.n_regencies_reporting_actions, 0) as n_regencies_reporting_actions,
        coalesce(actions.n_actions_reported, 0) as n_actions_reported,
        coalesce(actions.n_actions_completed, 0) as n_actions_completed,
        coalesce(actions.n_actions_overdue, 0) as n_actions_overdue,
        8 * case when regions.region_level = 'province' then n_regencies.n else 1 end as n_actions_expected,
        opd.opd_budget_rp,
        opd.opd_realisation_rp,
        round(100.0 * opd.opd_realisation_rp / nullif(opd.opd_budget_rp, 0), 2) as pct_opd_realisation,
        settings.*
    from regions
    cross join years
    cross join settings
    left join n_regencies on n_regencies.province_code = left(regions.region_code, 2)
    left join latest_survey on latest_survey.region_code = regions.region_code and latest_survey.year = years.year
    left join targets on targets.year = years.year
    left join rpjmd_targets
        on rpjmd_targets.region_code = left(regions.region_code, 2) and rpjmd_targets.year = years.year
    left join routine on routine.region_code = regions.region_code and routine.year = years.year
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
        -- stunting: judged on the survey
        case
            when pct_stunting_survey is null then 'no_survey'
            when pct_target_stunting is null then 'insufficient_data'
            when pct_stunting_survey <= pct_target_stunting then 'on_track'
            when pct_stunting_survey - pct_target_stunting > off_track_margin_pp then 'off_track'
            else 'at_risk'
        end as stunting_status,
        survey_name,
        survey_year,
        pct_stunting_survey,
        survey_figure_basis,
        pct_target_stunting,
        stunting_target_source,
        round(pct_stunting_survey - pct_target_stunting, 2) as pct_stunting_gap_to_target,
        pct_target_stunting_rpjmd,
        -- routine e-PPGBM: a trend beside the survey, never the basis of the status
        routine_period,
        n_children_routine,
        pct_stunting_routine_pooled,
        pct_stunting_routine_balita_weighted,
        pct_balita_in_routine_weighted,
        -- extreme poverty, with the coverage its registered rate stands on
        pct_extreme_poor_registered,
        pct_extreme_poor_registered_missing_reason,
        n_villages_reporting_p3ke,
        n_villages,
        pct_villages_reporting_p3ke,
        population_covered_p3ke,
        pct_population_covered_p3ke,
        pct_extreme_poverty_bps,
        extreme_poverty_bps_basis,
        pct_target_extreme_poverty,
        -- convergence actions: their own status
        case
            when n_actions_reported = 0 then 'not_reported'
            when 1.0 * n_actions_completed / n_actions_expected < actions_off_track_share then 'off_track'
            when 1.0 * n_actions_completed / n_actions_expected >= actions_on_track_share then 'on_track'
            else 'at_risk'
        end as actions_status,
        n_regencies_reporting_actions,
        n_actions_reported,
        n_actions_completed,
        n_actions_expected,
        round(100.0 * n_actions_completed / nullif(n_actions_expected, 0), 2) as pct_actions_completed,
        n_actions_overdue,
        opd_budget_rp,
        opd_realisation_rp,
        pct_opd_realisation
    from joined
)

select * from final
order by year, region_level desc, region_code
