-- one row per indicator x scope x year: the targets the marts measure progress against, year by year.
-- Only the published points are typed in; a year between two published points is interpolated linearly
-- (and says so in its source); no year before the first or after the last published point gets a figure.
-- Edit here (and only here) when a target is published or changes.
with published (indicator, scope, region_code, year, pct_target, source) as (
    values
        ('stunting', 'national', null, 2024, 14.0, 'Perpres 72/2021 (RPJMN 2020-2024)'),
        ('stunting', 'national', null, 2025, 18.8, 'Annual national target 2025 (Kemendagri/Bappenas)'),
        ('stunting', 'national', null, 2029, 14.2, 'RPJMN 2025-2029 (Perpres 12/2025)'),
        ('stunting', 'national', null, 2045, 5.0, 'RPJPN 2025-2045'),
        ('stunting', 'rpjmd', '36', 2030, 16.0, 'RPJMD Provinsi Banten 2025-2029 (end-of-term target)'),
        ('extreme_poverty', 'national', null, 2024, 0.0, 'Inpres 4/2022'),
        ('extreme_poverty', 'national', null, 2026, 0.0, 'RPJMN 2025-2029 (Perpres 12/2025)')
),

segments as (
    select
        *,
        lead(year) over next_point as next_year,
        lead(pct_target) over next_point as next_pct_target,
        lead(source) over next_point as next_source
    from published
    window next_point as (partition by indicator, scope order by year)
),

years as (
    -- each published point and the years up to (not including) the next one
    select
        segments.*,
        unnest(generate_series(segments.year, coalesce(segments.next_year - 1, segments.year))) as target_year
    from segments
),

final as (
    select
        indicator::varchar as indicator,
        scope::varchar as scope,
        region_code::varchar as region_code,
        target_year::integer as year,
        round(case
            when target_year = year then pct_target
            else pct_target + (next_pct_target - pct_target) * (target_year - year) / (next_year - year)
        end, 2)::decimal(5, 2) as pct_target,
        (target_year = year) as is_published,
        case
            when target_year = year then source
            else format(
                'Linear between {} ({} %, {}) and {} ({} %, {})',
                year, pct_target, source, next_year, next_pct_target, next_source
            )
        end::varchar as source
    from years
)

select * from final
order by indicator, scope, year
