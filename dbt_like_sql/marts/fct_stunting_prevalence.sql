-- One row per region (village, district, regency, province) x period x indicator (stunting, wasting, underweight).
with measurements as (
    select * from marts.fct_child_measurement
    where age_days between 0 and 1826
),

by_indicator as (
    select
        measurements.child_id,
        measurements.period,
        measurements.village_code,
        measurements.measured_on,
        measurements.submission_id,
        indicator.indicator,
        case indicator.indicator
            when 'stunting' then measurements.haz
            when 'wasting' then measurements.whz
            else measurements.waz
        end as z,
        case indicator.indicator
            when 'stunting' then measurements.flag_haz
            when 'wasting' then measurements.flag_whz
            else measurements.flag_waz
        end as is_flagged
    from measurements
    cross join (values ('stunting'), ('wasting'), ('underweight')) as indicator (indicator)
),

latest_per_child as (
    -- each child counts once per period and indicator: its latest measurement with a z-score for that
    -- indicator (a height nulled at ingestion costs a measurement its HAZ and WHZ, never its WAZ)
    select * from by_indicator
    qualify row_number() over (
        partition by child_id, period, indicator
        order by z is not null desc, measured_on desc, submission_id desc
    ) = 1
),

scored as (
    select
        latest_per_child.period,
        region.village_code,
        region.district_code,
        region.regency_code,
        region.province_code,
        latest_per_child.indicator,
        latest_per_child.z,
        latest_per_child.is_flagged
    from latest_per_child
    inner join marts.dim_region as region on region.region_code = latest_per_child.village_code
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
        count(*) filter (where z is not null and not is_flagged) as n_children,
        count(*) filter (where z < -2 and not is_flagged) as n_cases,
        count(*) filter (where z < -3 and not is_flagged) as n_severe,
        count(*) filter (where is_flagged) as n_flagged
    from scored
    cross join (values ('village'), ('district'), ('regency'), ('province')) as levels (region_level)
    group by all
),

balita as (
    select
        survey.regency_code,
        survey.year,
        survey.balita_estimate
    from staging.stg_survey_figures as survey
    where survey.balita_estimate is not null
),

province_balita as (
    -- the province estimate only when every regency submitted one
    select
        left(balita.regency_code, 2) as region_code,
        balita.year,
        sum(balita.balita_estimate) as balita_estimate
    from balita
    group by left(balita.regency_code, 2), balita.year
    having count(*) = (
        select count(*) from marts.dim_region as region
        where region.region_level = 'regency' and region.province_code = left(balita.regency_code, 2)
    )
),

wilson as (
    select
        *,
        n_cases / nullif(n_children, 0) as p,
        1.959963984540054 as z95
    from by_level
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
        round(100 * wilson.p, 4) as pct_prevalence,
        round(100 * (
            (wilson.p + wilson.z95 ^ 2 / (2 * wilson.n_children))
            - wilson.z95 * sqrt(wilson.p * (1 - wilson.p) / wilson.n_children + wilson.z95 ^ 2 / (4 * wilson.n_children ^ 2))
        ) / (1 + wilson.z95 ^ 2 / wilson.n_children), 4) as ci_low,
        round(100 * (
            (wilson.p + wilson.z95 ^ 2 / (2 * wilson.n_children))
            + wilson.z95 * sqrt(wilson.p * (1 - wilson.p) / wilson.n_children + wilson.z95 ^ 2 / (4 * wilson.n_children ^ 2))
        ) / (1 + wilson.z95 ^ 2 / wilson.n_children), 4) as ci_high,
        wilson.n_flagged,
        round(100 * wilson.n_children / coalesce(regency_balita.balita_estimate, province_balita.balita_estimate), 4)
            as pct_coverage
    from wilson
    left join balita as regency_balita
        on wilson.region_level = 'regency'
        and regency_balita.regency_code = wilson.region_code
        and regency_balita.year = left(wilson.period, 4)::integer
    left join province_balita
        on wilson.region_level = 'province'
        and province_balita.year = left(wilson.period, 4)::integer
)

select * from final
order by period, region_level, region_code, indicator
