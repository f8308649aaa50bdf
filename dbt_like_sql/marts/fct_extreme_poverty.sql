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

by_village as (
    -- counted per village first: every count is additive, so districts, regencies and the province
    -- are sums of their villages' (one pass over the households, not one per level)
    select
        households.village_code,
        households.village_region_code,
        households.district_code,
        households.regency_code,
        households.province_code,
        households.year,
        count(*) as n_households,
        count(*) filter (where welfare_decile = 1) as n_households_desil_1,
        count(*) filter (where welfare_decile = 2) as n_households_desil_2,
        count(*) filter (where welfare_decile = 3) as n_households_desil_3,
        count(*) filter (where welfare_decile = 4) as n_households_desil_4,
        sum(n_members) as n_individuals,
        sum(n_members) filter (where welfare_decile = 1) as n_individuals_desil_1,
        sum(n_members) filter (where welfare_decile = 2) as n_individuals_desil_2,
        sum(n_members) filter (where welfare_decile = 3) as n_individuals_desil_3,
        sum(n_members) filter (where welfare_decile = 4) as n_individuals_desil_4,
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
    group by all
),

by_level as (
    select
        levels.region_level,
        case levels.region_level
            when 'village' then by_village.village_region_code
            when 'district' then by_village.district_code
            when 'regency' then by_village.regency_code
            else by_village.province_code
        end as region_code,
        by_village.year,
        count(distinct by_village.village_code) as n_villages_reporting,
        sum(n_households)::bigint as n_households,
        sum(n_households_desil_1)::bigint as n_households_desil_1,
        sum(n_households_desil_2)::bigint as n_households_desil_2,
        sum(n_households_desil_3)::bigint as n_households_desil_3,
        sum(n_households_desil_4)::bigint as n_households_desil_4,
        coalesce(sum(n_individuals), 0)::bigint as n_individuals,
        coalesce(sum(n_individuals_desil_1), 0)::bigint as n_individuals_desil_1,
        coalesce(sum(n_individuals_desil_2), 0)::bigint as n_individuals_desil_2,
        coalesce(sum(n_individuals_desil_3), 0)::bigint as n_individuals_desil_3,
        coalesce(sum(n_individuals_desil_4), 0)::bigint as n_individuals_desil_4,
        sum(n_desil_1_pkh)::bigint as n_desil_1_pkh,
        sum(n_desil_1_bpnt_sembako)::bigint as n_desil_1_bpnt_sembako,
        sum(n_desil_1_bpum)::bigint as n_desil_1_bpum,
        sum(n_desil_1_bst)::bigint as n_desil_1_bst,
        sum(n_desil_1_no_assistance)::bigint as n_desil_1_no_assistance
    from by_village
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

n_villages as (
    -- villages and kelurahan in each district, regency and the province
    select levels.region_level, case levels.region_level
            when 'district' then region.district_code
            when 'regency' then region.regency_code
            when 'province' then region.province_code
            else region.village_code
        end as region_code,
        count(*) as n_villages
    from marts.dim_region as region
    cross join (values ('village'), ('district'), ('regency'), ('province')) as levels (region_level)
    where region.region_level = 'village'
    group by all
),

regency_cover as (
    -- population of the reporting villages, estimated as the regency population times the share of its villages
    -- that sent P3KE data (no village population source exists: villages of a regency are taken as equal)
    select
        spine.region_code,
        spine.year,
        survey.population,
        survey.extreme_poverty_bps_pct,
        survey.population * coalesce(by_level.n_villages_reporting, 0) / nullif(n_villages.n_villages, 0)
            as population_covered
    from spine
    left join survey
        on survey.region_level = 'regency' and survey.region_code = spine.region_code and survey.year = spine.year
    left join by_level
        on by_level.region_level = 'regency' and by_level.region_code = spine.region_code and by_level.year = spine.year
    left join n_villages on n_villages.region_level = 'regency' and n_villages.region_code = spine.region_code
    where spine.region_level = 'regency'
),

province_derived as (
    -- derived from the regencies only when every regency has the figure; BPS rate weighted by population
    select
        left(regency_cover.region_code, 2) as region_code,
        regency_cover.year,
        case when count(regency_cover.population) = count(*) then sum(regency_cover.population) end as population,
        case when count(regency_cover.population) = count(*) then sum(regency_cover.population_covered) end
            as population_covered,
        case
            when count(regency_cover.population * regency_cover.extreme_poverty_bps_pct) = count(*)
                then sum(regency_cover.extreme_poverty_bps_pct * regency_cover.population)
                    / nullif(sum(regency_cover.population), 0)
        end as extreme_poverty_bps_pct
    from regency_cover
    group by all
),

denominators as (
    select region_code, year, population, population_covered, extreme_poverty_bps_pct,
        case when extreme_poverty_bps_pct is not null then 'published' end as bps_basis
    from regency_cover
    union all
    -- the province's own published figures; the regencies' sum or weighted mean only where none was published
    select
        derived.region_code,
        derived.year,
        coalesce(published.population, derived.population) as population,
        -- the covered population is always the regencies' sum (which villages reported is known per regency)
        derived.population_covered,
        coalesce(published.extreme_poverty_bps_pct, derived.extreme_poverty_bps_pct) as extreme_poverty_bps_pct,
        case
            when published.extreme_poverty_bps_pct is not null then 'published'
            when derived.extreme_poverty_bps_pct is not null then 'derived_from_regencies'
        end as bps_basis
    from province_derived as derived
    left join survey as published
        on published.region_level = 'province' and published.region_code = derived.region_code
        and published.year = derived.year
),

settings as (
    select value as min_coverage_pct from reference.progress_settings where setting = 'p3ke_min_village_coverage_pct'
),

targets as (
    select year, pct_target from reference.target_settings where indicator = 'extreme_poverty' and scope = 'national'
),

registered as (
    select
        spine.region_code,
        spine.region_level,
        spine.year,
        n_villages.n_villages,
        coalesce(by_level.n_villages_reporting, 0) as n_villages_reporting,
        round(100.0 * coalesce(by_level.n_villages_reporting, 0) / nullif(n_villages.n_villages, 0), 2)
            as pct_villages_reporting,
        denominators.population::bigint as population,
        round(denominators.population_covered)::bigint as population_covered,
        round(100.0 * denominators.population_covered / nullif(denominators.population, 0), 2)
            as pct_population_covered,
        case
            when coalesce(by_level.n_villages_reporting, 0) = 0 then 'no_p3ke_data'
            when denominators.population_covered is null or denominators.population_covered <= 0 then 'no_population'
            when 100.0 * by_level.n_villages_reporting / n_villages.n_villages < settings.min_coverage_pct
                then 'coverage_below_threshold'
        end as registered_rate_missing_reason,
        100.0 * coalesce(by_level.n_individuals_desil_1, 0) / nullif(denominators.population_covered, 0)
            as registered_rate,
        denominators.extreme_poverty_bps_pct,
        denominators.bps_basis
    from spine
    cross join settings
    left join by_level
        on by_level.region_code = spine.region_code
        and by_level.region_level = spine.region_level
        and by_level.year = spine.year
    left join n_villages on n_villages.region_level = spine.region_level and n_villages.region_code = spine.region_code
    left join denominators
        on spine.region_level in ('regency', 'province')
        and denominators.region_code = spine.region_code
        and denominators.year = spine.year
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
        registered.n_villages,
        registered.pct_villages_reporting,
        registered.population,
        registered.population_covered,
        registered.pct_population_covered,
        case when registered.registered_rate_missing_reason is null then round(registered.registered_rate, 4) end
            as pct_extreme_poor_registered,
        registered.registered_rate_missing_reason as pct_extreme_poor_registered_missing_reason,
        round(registered.extreme_poverty_bps_pct, 4) as pct_extreme_poverty_bps,
        registered.bps_basis as extreme_poverty_bps_basis,
        targets.pct_target as pct_target_extreme_poverty,
        case when registered.registered_rate_missing_reason is null
            then round(registered.registered_rate - targets.pct_target, 4) end as pct_gap_registered_to_target,
        round(registered.extreme_poverty_bps_pct - targets.pct_target, 4) as pct_gap_bps_to_target
    from spine
    left join by_level
        on by_level.region_code = spine.region_code
        and by_level.region_level = spine.region_level
        and by_level.year = spine.year
    inner join registered
        on registered.region_code = spine.region_code
        and registered.region_level = spine.region_level
        and registered.year = spine.year
    left join targets on targets.year = spine.year
)

select * from final
order by year, region_level, region_code
