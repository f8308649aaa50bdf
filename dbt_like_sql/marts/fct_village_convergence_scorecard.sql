-- one row per village x quarter: the village convergence scorecard (rembuk, KPM, posyandu, Dana Desa,
-- 1000-HPK households reached per service package) and whether the village is a lokus village that year.
with scorecards as (
    select * from staging.stg_village_scorecard
),

lokus as (
    select village_code, year from staging.stg_lokus_villages
),

regions as (
    select * from marts.dim_region where region_level = 'village'
),

final as (
    select
        scorecards.village_code,
        scorecards.period,
        scorecards.year,
        scorecards.quarter,
        regions.district_code,
        regions.regency_code,
        scorecards.rembuk_held as is_rembuk_held,
        scorecards.kpm_active as is_kpm_active,
        scorecards.n_posyandu,
        scorecards.n_posyandu_active,
        round(100.0 * scorecards.n_posyandu_active / nullif(scorecards.n_posyandu, 0), 2) as pct_posyandu_active,
        scorecards.dana_desa_stunting_rp,
        scorecards.n_target_households,
        scorecards.n_reached_kia,
        scorecards.n_reached_nutrition,
        scorecards.n_reached_wash,
        scorecards.n_reached_social,
        scorecards.n_reached_paud,
        round(100.0 * scorecards.n_reached_kia / nullif(scorecards.n_target_households, 0), 2) as pct_reached_kia,
        round(100.0 * scorecards.n_reached_nutrition / nullif(scorecards.n_target_households, 0), 2)
            as pct_reached_nutrition,
        round(100.0 * scorecards.n_reached_wash / nullif(scorecards.n_target_households, 0), 2) as pct_reached_wash,
        round(100.0 * scorecards.n_reached_social / nullif(scorecards.n_target_households, 0), 2)
            as pct_reached_social,
        round(100.0 * scorecards.n_reached_paud / nullif(scorecards.n_target_households, 0), 2) as pct_reached_paud,
        lokus.village_code is not null as is_lokus_village,
        scorecards.submission_id
    from scorecards
    left join regions on regions.region_code = scorecards.village_code
    left join lokus
        on lokus.village_code = scorecards.village_code
        and lokus.year = scorecards.year
)

select * from final
order by period, village_code
