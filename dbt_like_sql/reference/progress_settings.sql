-- one row per setting of the progress rules in mart_target_progress and fct_extreme_poverty (docs/marts.md):
-- how far above target is off track, how fresh a survey must be, the action shares, the P3KE coverage floor.
with settings (setting, value, unit, description) as (
    values
        ('stunting_off_track_margin_pp', 5.0, 'percentage points',
         'Survey prevalence more than this above the target is off_track; above the target by this or less is at_risk'),
        ('survey_max_age_years', 1.0, 'years',
         'A year is judged on the latest SSGI/SKI of that year or at most this many years before; older is no_survey'),
        ('actions_on_track_share', 0.75, 'share',
         'At least this share of the expected actions completed is on_track (6 of 8)'),
        ('actions_off_track_share', 0.5, 'share',
         'Less than this share of the expected actions completed is off_track (fewer than 4 of 8)'),
        ('p3ke_min_village_coverage_pct', 80.0, 'percent',
         'The registered extreme-poverty rate is given only where at least this share of villages sent P3KE data')
),

final as (
    select
        setting::varchar as setting,
        value::double as value,
        unit::varchar as unit,
        description::varchar as description
    from settings
)

select * from final
order by setting
