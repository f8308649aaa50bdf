-- one row per reporting period at three grains: month (2024-08), quarter (2024-Q3) and year (2024).
-- Covers 2020-2030, widened to any year a submission names, so every period in the data joins.
with submitted_years as (
    select distinct left(period, 4)::integer as year
    from raw.submissions
    where regexp_matches(period, '^[0-9]{4}')
),

bounds as (
    select
        least(2020, min(year)) as first_year,
        greatest(2030, max(year)) as last_year
    from submitted_years
),

years as (
    select range::integer as year
    from bounds, range(bounds.first_year, bounds.last_year + 1)
),

month_names (month, month_name_id) as (
    values
        (1, 'Januari'), (2, 'Februari'), (3, 'Maret'), (4, 'April'), (5, 'Mei'), (6, 'Juni'),
        (7, 'Juli'), (8, 'Agustus'), (9, 'September'), (10, 'Oktober'), (11, 'November'), (12, 'Desember')
),

quarter_names (quarter, quarter_name_id) as (
    values (1, 'Triwulan I'), (2, 'Triwulan II'), (3, 'Triwulan III'), (4, 'Triwulan IV')
),

months as (
    select
        years.year::varchar || '-' || lpad(month_names.month::varchar, 2, '0') as period_key,
        'month' as period_grain,
        years.year,
        (month_names.month + 2) // 3 as quarter,
        month_names.month,
        month_names.month_name_id,
        month_names.month_name_id || ' ' || years.year::varchar as period_label_id,
        make_date(years.year, month_names.month, 1) as start_date,
        last_day(make_date(years.year, month_names.month, 1)) as end_date,
        years.year::varchar || '-Q' || ((month_names.month + 2) // 3)::varchar as parent_period_key
    from years
    cross join month_names
),

quarters as (
    select
        years.year::varchar || '-Q' || quarter_names.quarter::varchar as period_key,
        'quarter' as period_grain,
        years.year,
        quarter_names.quarter,
        null::integer as month,
        null::varchar as month_name_id,
        quarter_names.quarter_name_id || ' ' || years.year::varchar as period_label_id,
        make_date(years.year, quarter_names.quarter * 3 - 2, 1) as start_date,
        last_day(make_date(years.year, quarter_names.quarter * 3, 1)) as end_date,
        years.year::varchar as parent_period_key
    from years
    cross join quarter_names
),

whole_years as (
    select
        years.year::varchar as period_key,
        'year' as period_grain,
        years.year,
        null::integer as quarter,
        null::integer as month,
        null::varchar as month_name_id,
        'Tahun ' || years.year::varchar as period_label_id,
        make_date(years.year, 1, 1) as start_date,
        make_date(years.year, 12, 31) as end_date,
        null::varchar as parent_period_key
    from years
),

final as (
    select * from months
    union all
    select * from quarters
    union all
    select * from whole_years
)

select * from final
order by start_date, end_date desc
