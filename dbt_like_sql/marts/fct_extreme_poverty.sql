-- one row per region (village, district, regency, province) x year: P3KE households and people by welfare desil,
-- assistance coverage of the extreme poor (desil 1), and the registered and BPS extreme-poverty rates against 0 %.
with households as (
    select
        households.*,
        region.village_code as village_region_code,
        region.district_code,
        region.regency_code,
        region.province_code
    from staging.stg_households as households
    inner join marts.dim_region as region on region.region_code = households.village_code
    where households.welfare_decile between 1 and 4
),

survey as (
    select * from staging.stg_survey_figures
),

n_regencies as (
    select province_code, count(*) as n from marts.dim_region where region_level = 'regency' group by 1
),

by_level as (
    select
        levels.region_level,
        case levels.region_level
            when 'village' then households.village_region_code
            when 'district' then households.district_code
            when 'regency' then households.regency_code
            else households.province_code
        end as region_code,
        households.year,
        count(distinct households.village_code) as n_villages_reporting,
        count(*) as n_households,
        count(*) filter (where welfare_decile = 1) as n_households_desil_1,
        count(*) filter (where welfare_decile = 2) as n_households_desil_2,
        count(*) filter (where welfare_decile = 3) as n_households_desil_3,
        count(*) filter (where welfare_decile = 4) as n_households_desil_4,
        coalesce(sum(n_members), 0)::bigint as n_individuals,
        coalesce(sum(n_members) filter (where welfare_decile = 1), 0)::bigint as n_individuals_desil_1,
        coalesce(sum(n_members) filter (where welfare_decile = 2), 0)::bigint as n_individuals_desil_2,
        coalesce(sum(n_members) filter (where welfare_decile = 3), 0)::bigint as n_individuals_desil_3,
        coalesce(sum(n_members) filter (where welfare_decile = 4), 0)::bigint as n_individuals_desil_4,
        count(*) filter (where welfare_decile = 1 and receives_pkh) as n_desil_1_pkh,
        -- BPNT was renamed Program Sembako; a household flagged in either column receives it
        count(*) filter (where welfare_decile = 1 and (receives_bpnt or receives_sembako)) as n_desil_1_bpnt_sembako,
        count(*) filter (where welfare_decile = 1 and receives_bpum) as n_desil_1_bpum,
        count(*) filter (where welfare_decile = 1 and receives_bst) as n_desil_1_bst,
        count(*) filter (
            where welfare_decile = 1
            and not coalesce(receives_pkh or receives_bpnt or receives_sembako or receives_bpum or receives_bst, false)
        ) as n_desil_1_no_assistance
    from households
    cross join (values ('village'), ('district'), ('regency'), ('province')) as levels (region_level)
    group by all
),

years as (
    select year from by_level
    union
    select year from survey
),

spine as (
    -- regencies and the province appear every year with data, even without P3KE rows (BPS rate alone)
    select region_code, region_level, year from by_level
    union
    select region.region_code, region.region_level, years.year
    from marts.dim_region as region
    cross join years
    where region.region_level in ('regency', 'province')
),

province_survey as (
    -- the province figure only when every regency submitted it; BPS rate weighted by population
    select
        left(survey.regency_code, 2) as region_code,
        survey.year,
        sum(survey.population) as population,
        sum(survey.extreme_poverty_bps_pct * survey.population) / sum(survey.population) as extreme_poverty_bps_pct
    from survey
    inner join n_regencies on n_regencies.province_code = left(survey.regency_code, 2)
    where survey.population is not null and survey.extreme_poverty_bps_pct is not null
    group by left(survey.regency_code, 2), survey.year
    having count(*) = any_value(n_regencies.n)
),

denominators as (
    select regency_code as region_code, year, population, extreme_poverty_bps_pct
    from survey
    union all
    select region_code, year, population, extreme_poverty_bps_pct
    from province_survey
),

targets as (
    -- a year without its own target uses the next target year; after the last one, the last target
    select
        years.year,
        coalesce(
            arg_min(settings.pct_target, settings.target_year) filter (where settings.target_year >= years.year),
            arg_max(settings.pct_target, settings.target_year)
        ) as pct_target
    from years
    cross join reference.target_settings as settings
    where settings.indicator = 'extreme_poverty'
    group by years.year
),

final as (
    select
        spine.region_code,
        spine.region_level,
        spine.year,
        coalesce(by_level.n_villages_reporting, 0) as n_villages_reporting,
        coalesce(by_level.n_households, 0) as n_households,
        coalesce(by_level.n_households_desil_1, 0) as n_households_desil_1,
        coalesce(by_level.n_households_desil_2, 0) as n_households_desil_2,
        coalesce(by_level.n_households_desil_3, 0) as n_households_desil_3,
        coalesce(by_level.n_households_desil_4, 0) as n_households_desil_4,
        coalesce(by_level.n_individuals, 0) as n_individuals,
        coalesce(by_level.n_individuals_desil_1, 0) as n_individuals_desil_1,
        coalesce(by_level.n_individuals_desil_2, 0) as n_individuals_desil_2,
        coalesce(by_level.n_individuals_desil_3, 0) as n_individuals_desil_3,
        coalesce(by_level.n_individuals_desil_4, 0) as n_individuals_desil_4,
        coalesce(by_level.n_desil_1_pkh, 0) as n_desil_1_pkh,
        coalesce(by_level.n_desil_1_bpnt_sembako, 0) as n_desil_1_bpnt_sembako,
        coalesce(by_level.n_desil_1_bpum, 0) as n_desil_1_bpum,
        coalesce(by_level.n_desil_1_bst, 0) as n_desil_1_bst,
        coalesce(by_level.n_desil_1_no_assistance, 0) as n_desil_1_no_assistance,
        round(100.0 * by_level.n_desil_1_pkh / nullif(by_level.n_households_desil_1, 0), 2) as pct_desil_1_pkh,
        round(100.0 * by_level.n_desil_1_bpnt_sembako / nullif(by_level.n_households_desil_1, 0), 2)
            as pct_desil_1_bpnt_sembako,
        round(100.0 * by_level.n_desil_1_bpum / nullif(by_level.n_households_desil_1, 0), 2) as pct_desil_1_bpum,
        round(100.0 * by_level.n_desil_1_bst / nullif(by_level.n_households_desil_1, 0), 2) as pct_desil_1_bst,
        round(100.0 * by_level.n_desil_1_no_assistance / nullif(by_level.n_households_desil_1, 0), 2)
            as pct_desil_1_no_assistance,
        denominators.population,
        round(100.0 * coalesce(by_level.n_individuals_desil_1, 0) / denominators.population, 4)
            as pct_extreme_poor_registered,
        round(denominators.extreme_poverty_bps_pct, 4) as pct_extreme_poverty_bps,
        targets.pct_target as pct_target_extreme_poverty,
        round(100.0 * coalesce(by_level.n_individuals_desil_1, 0) / denominators.population - targets.pct_target, 4)
            as pct_gap_registered_to_target,
        round(denominators.extreme_poverty_bps_pct - targets.pct_target, 4) as pct_gap_bps_to_target
    from spine
    left join by_level
        on by_level.region_code = spine.region_code
        and by_level.region_level = spine.region_level
        and by_level.year = spine.year
    left join denominators
        on spine.region_level in ('regency', 'province')
        and denominators.region_code = spine.region_code
        and denominators.year = spine.year
    left join targets on targets.year = spine.year
)

select * from final
order by year, region_level, region_code
