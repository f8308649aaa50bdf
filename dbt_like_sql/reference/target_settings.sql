-- one row per indicator x target year: the national/regional targets the marts measure progress against.
-- Edit here (and only here) when a target changes; a year without its own row uses the next target year.
with targets (indicator, target_year, pct_target, source) as (
    values
        ('stunting', 2024, 14.0, 'Perpres 72/2021, RPJMN 2020-2024'),
        ('stunting', 2025, 18.8, 'Annual national target 2025'),
        ('stunting', 2029, 14.2, 'RPJMN 2025-2029, Perpres 12/2025'),
        ('stunting', 2045, 5.0, 'RPJPN 2025-2045'),
        ('extreme_poverty', 2024, 0.0, 'Inpres 4/2022'),
        ('extreme_poverty', 2026, 0.0, 'RPJMN 2025-2029'),
        ('extreme_poverty', 2045, 0.0, 'Held at zero after 2026 (our assumption)')
),

final as (
    select
        indicator::varchar as indicator,
        target_year::integer as target_year,
        pct_target::decimal(5, 2) as pct_target,
        source::varchar as source
    from targets
)

select * from final
order by indicator, target_year
