-- Capaian target / Target progress: one row per regency and the province for the latest year in
-- marts.mart_target_progress. Status is judged on the survey (SSGI/SKI) only; routine e-PPGBM
-- prevalence stands beside it as a trend. Figures rounded to 1 decimal for display.
select
    region_code,
    region_level,
    region_name,
    case when region_level = 'province' then 0 else 1 end as sort_group,
    year,
    stunting_status,
    case stunting_status
        when 'on_track' then 'Sesuai target / On track'
        when 'at_risk' then 'Berisiko / At risk'
        when 'off_track' then 'Tidak sesuai target / Off track'
        when 'no_survey' then 'Tidak ada survei / No survey'
        when 'insufficient_data' then 'Data tidak cukup / Insufficient data'
        else stunting_status
    end as stunting_status_label,
    survey_name,
    survey_year,
    survey_name || ' ' || survey_year as survey_label,
    coalesce(
        survey_name || ' ' || survey_year || ' · ' || case survey_figure_basis
            when 'published' then 'dipublikasikan / published'
            when 'derived_from_regencies' then 'diturunkan dari kab/kota / derived from regencies'
            else survey_figure_basis
        end,
        'Tidak ada survei / No survey'
    ) as status_basis,
    round(pct_stunting_survey, 1) as pct_stunting_survey,
    survey_figure_basis,
    case survey_figure_basis
        when 'published' then 'Dipublikasikan / Published'
        when 'derived_from_regencies' then 'Diturunkan dari kab/kota / Derived from regencies'
        else survey_figure_basis
    end as survey_basis_label,
    cast(pct_target_stunting as double) as pct_target_stunting,
    stunting_target_source,
    round(pct_stunting_gap_to_target, 1) as pct_stunting_gap_to_target,
    routine_period,
    n_children_routine,
    round(pct_stunting_routine_pooled, 1) as pct_stunting_routine_pooled,
    round(pct_stunting_routine_balita_weighted, 1) as pct_stunting_routine_balita_weighted,
    round(pct_balita_in_routine_weighted, 1) as pct_balita_in_routine_weighted,
    round(pct_extreme_poverty_bps, 2) as pct_extreme_poverty_bps,
    extreme_poverty_bps_basis,
    round(pct_extreme_poor_registered, 2) as pct_extreme_poor_registered,
    pct_extreme_poor_registered_missing_reason,
    round(pct_villages_reporting_p3ke, 2) as pct_villages_reporting_p3ke,
    round(pct_population_covered_p3ke, 2) as pct_population_covered_p3ke,
    cast(pct_target_extreme_poverty as double) as pct_target_extreme_poverty,
    actions_status,
    case actions_status
        when 'on_track' then 'Sesuai target / On track'
        when 'at_risk' then 'Berisiko / At risk'
        when 'off_track' then 'Tidak sesuai target / Off track'
        when 'not_reported' then 'Tidak melapor / Not reported'
        else actions_status
    end as actions_status_label,
    n_actions_completed,
    n_actions_expected,
    n_actions_overdue,
    round(pct_opd_realisation, 2) as pct_opd_realisation
from marts.mart_target_progress
where year = (select max(year) from marts.mart_target_progress)
order by sort_group, region_code
