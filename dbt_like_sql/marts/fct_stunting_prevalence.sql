-- One row per region (village, district, regency, province) x period x indicator (stunting, wasting, underweight).
with region_index as (
    -- every region code numbered, so that a measurement's village travels as a small integer below
    select region_code, row_number() over (order by region_code) as region_idx
    from marts.dim_region
),

measurements as (
    select
        m.child_id,
        m.period,
        coalesce(region_index.region_idx, 0) as region_idx,  -- 0: a code dim_region does not hold
        date_diff('day', date '1900-01-01', m.measured_on) as day_no,
        m.haz,
        m.whz,
        m.waz,
        m.flag_haz,
        m.flag_whz,
        m.flag_waz
    from marts.fct_child_measurement as m
    left join region_index on region_index.region_code = m.village_code
    where m.age_days between 0 and 1826
),

packed as (
    -- Each measurement, per indicator, as one BIGINT ordered as the pick below is, carrying what the
    -- counts need of the row picked:
    --   ((has a score) * 2^20 + day number) * 2^20 + the region's number, then 2 bits for the z-score's
    --   class (0 none, 1 >= -2, 2 in [-3, -2), 3 < -3) and 2 for the flag (0 no, 1 yes, 2 unknown).
    --   The fields hold up to 2^20 - 1 region codes (Indonesia's master: ~91,000) and day numbers from
    --   1900-01-01 to the year 4770 (measured_on lies in its reporting month: older rows are quarantined).
    -- One max() per indicator then picks a child's row and carries its values in a fixed 8-byte state,
    -- where an arg_max of a struct kept a string per child (the national month's 25 M children: a 12 GB
    -- hash table, 57 CPU s). This model, national month: 44.5 -> 13.7 s; Banten 0.74 -> 0.32 s.
    select
        child_id,
        period,
        (
            ((((haz is not null)::bigint << 20) + day_no) << 24)
            + (region_idx << 4)
            + (case when haz is null then 0 when haz < -3 then 3 when haz < -2 then 2 else 1 end << 2)
            + coalesce(flag_haz::integer, 2)
        ) as stunting,
        (
            ((((whz is not null)::bigint << 20) + day_no) << 24)
            + (region_idx << 4)
            + (case when whz is null then 0 when whz < -3 then 3 when whz < -2 then 2 else 1 end << 2)
            + coalesce(flag_whz::integer, 2)
        ) as wasting,
        (
            ((((waz is not null)::bigint << 20) + day_no) << 24)
            + (region_idx << 4)
            + (case when waz is null then 0 when waz < -3 then 3 when waz < -2 then 2 else 1 end << 2)
            + coalesce(flag_waz::integer, 2)
        ) as underweight
    from measurements
),

latest_per_child as (
    -- each child counts once per period and indicator: its latest measurement with a z-score for that
    -- indicator (a height nulled at ingestion costs a measurement its HAZ and WHZ, never its WAZ). The
    -- day number is unique within a child and period (the grain of fct_child_measurement), so the max
    -- picks one row, as a row_number over (has a score, measured_on) did.
    select period, max(stunting) as stunting, max(wasting) as wasting, max(underweight) as underweight
    from packed
    group by child_id, period
),

by_indicator as (
    select period, 'stunting' as indicator, stunting as pick from latest_per_child
    union all
    select period, 'wasting', wasting from latest_per_child
    union all
    select period, 'underweight', underweight from latest_per_child
),

by_region_idx as (
    -- counted per village first: the counts are additive, so districts, regencies and provinces are
    -- sums of their villages' (cost linear in the children, not four passes over them)
    select
        (pick >> 4) & 1048575 as region_idx,
        period,
        indicator,
        count(*) filter (where (pick >> 2) & 3 > 0 and pick & 3 = 0) as n_children,
        count(*) filter (where (pick >> 2) & 3 >= 2 and pick & 3 = 0) as n_cases,
        count(*) filter (where (pick >> 2) & 3 = 3 and pick & 3 = 0) as n_severe,
        count(*) filter (where pick & 3 = 1) as n_flagged
    from by_indicator
    where pick is not null
    group by all
),

by_village as (
    select region_index.region_code as village_code, by_region_idx.* exclude (region_idx)
    from by_region_idx
    inner join region_index using (region_idx)
),

scored as (
    select
        by_village.period,
        region.village_code,
        region.district_code,
        region.regency_code,
        region.province_code,
        by_village.indicator,
        by_village.n_children,
        by_village.n_cases,
        by_village.n_severe,
        by_village.n_flagged
    from by_village
    inner join marts.dim_region as region on region.region_code = by_village.village_code
),

by_level as (
    select
        region_level,
        case region_level
            when 'village' then village_code
            when 'district' then district_code
            when 'regency' then regency_code
            else province_code
        end as region_code,
        period,
        indicator,
        sum(n_children)::bigint as n_children,
        sum(n_cases)::bigint as n_cases,
        sum(n_severe)::bigint as n_severe,
        sum(n_flagged)::bigint as n_flagged
    from scored
    cross join (values ('village'), ('district'), ('regency'), ('province')) as levels (region_level)
    group by all
),

balita as (
    -- under-five estimates as submitted: each regency's, and the province's own published one
    select region_code, region_level, year, balita_estimate
    from staging.stg_survey_figures
    where balita_estimate is not null
),

province_balita as (
    -- the province estimate: its own published row, else the regencies' sum when every regency submitted one
    select
        province.region_code,
        province.year,
        coalesce(any_value(published.balita_estimate), case
            when count(regency.balita_estimate) = any_value(province.n_regencies) then sum(regency.balita_estimate)
        end) as balita_estimate,
        case
            when count(regency.balita_estimate) = any_value(province.n_regencies) then sum(regency.balita_estimate)
        end as regencies_balita_estimate
    from (
        select province_code as region_code, years.year, count(*) as n_regencies
        from marts.dim_region
        cross join (select distinct year from balita) as years
        where region_level = 'regency'
        group by all
    ) as province
    left join balita as regency
        on regency.region_level = 'regency' and left(regency.region_code, 2) = province.region_code
        and regency.year = province.year
    left join balita as published
        on published.region_level = 'province' and published.region_code = province.region_code
        and published.year = province.year
    group by province.region_code, province.year
),

wilson as (
    select
        *,
        n_cases / nullif(n_children, 0) as p,
        1.959963984540054 as z95
    from by_level
),

weighted as (
    -- the province rate weighted by each regency's under-five estimate (pooled rates let high-coverage
    -- regencies dominate); stratified standard error sqrt(sum(w^2 p (1 - p) / n)), w = weight share
    select
        left(wilson.region_code, 2) as region_code,
        wilson.period,
        wilson.indicator,
        sum(wilson.p * balita.balita_estimate) / nullif(sum(balita.balita_estimate), 0) as p_weighted,
        sqrt(
            sum(balita.balita_estimate ^ 2 * wilson.p * (1 - wilson.p) / wilson.n_children)
        ) / nullif(sum(balita.balita_estimate), 0) as se_weighted,
        sum(balita.balita_estimate) as balita_in_weighted
    from wilson
    inner join balita
        on balita.region_level = 'regency'
        and balita.region_code = wilson.region_code
        and balita.year = left(wilson.period, 4)::integer
    where wilson.region_level = 'regency' and wilson.n_children > 0
    group by all
),

final as (
    select
        wilson.region_code,
        wilson.region_level,
        wilson.period,
        wilson.indicator,
        wilson.n_children,
        wilson.n_cases,
        wilson.n_severe,
        round(100 * wilson.p, 4) as pct_prevalence_pooled,
        round(100 * (
            (wilson.p + wilson.z95 ^ 2 / (2 * wilson.n_children))
            - wilson.z95 * sqrt(wilson.p * (1 - wilson.p) / wilson.n_children + wilson.z95 ^ 2 / (4 * wilson.n_children ^ 2))
        ) / (1 + wilson.z95 ^ 2 / wilson.n_children), 4) as ci_low,
        round(100 * (
            (wilson.p + wilson.z95 ^ 2 / (2 * wilson.n_children))
            + wilson.z95 * sqrt(wilson.p * (1 - wilson.p) / wilson.n_children + wilson.z95 ^ 2 / (4 * wilson.n_children ^ 2))
        ) / (1 + wilson.z95 ^ 2 / wilson.n_children), 4) as ci_high,
        wilson.n_flagged,
        round(100 * wilson.n_children / nullif(coalesce(regency_balita.balita_estimate, province_balita.balita_estimate), 0), 4)
            as pct_coverage,
        round(100 * weighted.p_weighted, 4) as pct_prevalence_balita_weighted,
        round(100 * (case when weighted.p_weighted is not null then greatest(weighted.p_weighted - wilson.z95 * weighted.se_weighted, 0) end), 4) as ci_low_balita_weighted,
        round(100 * (case when weighted.p_weighted is not null then least(weighted.p_weighted + wilson.z95 * weighted.se_weighted, 1) end), 4) as ci_high_balita_weighted,
        -- the weights' own source: the regencies' estimates when all have one, else the province's published one
        round(100 * weighted.balita_in_weighted
            / nullif(coalesce(province_balita.regencies_balita_estimate, province_balita.balita_estimate), 0), 4)
            as pct_balita_in_weighted
    from wilson
    left join balita as regency_balita
        on wilson.region_level = 'regency'
        and regency_balita.region_level = 'regency'
        and regency_balita.region_code = wilson.region_code
        and regency_balita.year = left(wilson.period, 4)::integer
    left join province_balita
        on wilson.region_level = 'province'
        and province_balita.region_code = wilson.region_code
        and province_balita.year = left(wilson.period, 4)::integer
    left join weighted
        on wilson.region_level = 'province'
        and weighted.region_code = wilson.region_code
        and weighted.period = wilson.period
        and weighted.indicator = wilson.indicator
)

select * from final
order by period, region_level, region_code, indicator
