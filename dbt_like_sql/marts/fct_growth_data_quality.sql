-- One row per reporting unit (posyandu, puskesmas, village) x period: the WHO Anthro Survey Analyser data-quality measures.
-- The three CTEs below are read by several others: NOT MATERIALIZED streams them to each reader, where
-- DuckDB would otherwise write three rows per measurement to its buffer first (a national month: 75 M rows,
-- most of this model's time).
with measurements as not materialized (
    select
        m.*,
        region.regency_code,
        region.district_code
    from marts.fct_child_measurement as m
    inner join marts.dim_region as region on region.region_code = m.village_code
),

units as not materialized (
    -- every measurement belongs to three units: its posyandu, its puskesmas and its village
    select
        'posyandu' as unit_level,
        village_code || ' | ' || coalesce(posyandu, '(tanpa posyandu)') as unit_key,
        coalesce(posyandu, '(tanpa posyandu)') as unit_name,
        village_code as region_code,
        *
    from measurements
    union all
    select
        'puskesmas' as unit_level,
        regency_code || ' | ' || coalesce(puskesmas, '(tanpa puskesmas)') as unit_key,
        coalesce(puskesmas, '(tanpa puskesmas)') as unit_name,
        regency_code as region_code,
        *
    from measurements
    union all
    select
        'village' as unit_level,
        village_code as unit_key,
        village_code as unit_name,
        village_code as region_code,
        *
    from measurements
),

with_position as not materialized (
    select
        *,
        (measure = 'h' and age_days < 731) or (measure = 'l' and age_days >= 731) as is_wrong_position
    from units
),

grain_digits as (
    -- terminal digits counted per village, posyandu and puskesmas first: each unit below is a sum of
    -- these (exact counts), so the digits take two passes over the measurements, not six over three
    -- copies of them (national month, the model alone: 95.7 -> 72.0 CPU s; identical rows)
    select village_code, regency_code, posyandu, puskesmas, period, variable, digit, count(*) as n
    from (
        select village_code, regency_code, posyandu, puskesmas, period, 'height' as variable,
            (round(lenhei_cm * 10)::bigint % 10)::integer as digit
        from measurements
        union all
        select village_code, regency_code, posyandu, puskesmas, period, 'weight' as variable,
            (round(weight_kg * 10)::bigint % 10)::integer as digit
        from measurements
    )
    where digit is not null
    group by all
),

digit_counts as (
    select unit_level, unit_key, period, variable, digit, sum(n)::bigint as n
    from (
        select
            'posyandu' as unit_level,
            village_code || ' | ' || coalesce(posyandu, '(tanpa posyandu)') as unit_key,
            period, variable, digit, n
        from grain_digits
        union all
        select
            'puskesmas' as unit_level,
            regency_code || ' | ' || coalesce(puskesmas, '(tanpa puskesmas)') as unit_key,
            period, variable, digit, n
        from grain_digits
        union all
        select 'village' as unit_level, village_code as unit_key, period, variable, digit, n
        from grain_digits
    )
    group by all
),

digit_totals as (
    select unit_level, unit_key, period, variable, sum(n) as total
    from digit_counts group by all
),

digit_preference as (
    -- WHO digit preference score: 100 * sqrt(chi2 / (N * 9)); 0 = no preference, > 20 = problematic
    select
        totals.unit_level,
        totals.unit_key,
        totals.period,
        totals.variable,
        100 * sqrt(
            sum((coalesce(counts.n, 0) - totals.total / 10.0) ^ 2 / (totals.total / 10.0)) / (totals.total * 9)
        ) as dps,
        100.0 * sum(coalesce(counts.n, 0)) filter (where digits.digit = 0) / totals.total as pct_digit_0,
        100.0 * sum(coalesce(counts.n, 0)) filter (where digits.digit = 5) / totals.total as pct_digit_5
    from digit_totals as totals
    cross join range(10) as digits (digit)
    left join digit_counts as counts
        on counts.unit_level = totals.unit_level
        and counts.unit_key = totals.unit_key
        and counts.period = totals.period
        and counts.variable = totals.variable
        and counts.digit = digits.digit
    group by totals.unit_level, totals.unit_key, totals.period, totals.variable, totals.total
),

measures as (
    select
        unit_level,
        unit_key,
        any_value(unit_name) as unit_name,
        any_value(region_code) as region_code,
        period,
        count(*) as n_measurements,
        stddev_samp(haz) filter (where not flag_haz) as sd_haz,
        stddev_samp(waz) filter (where not flag_waz) as sd_waz,
        stddev_samp(whz) filter (where not flag_whz) as sd_whz,
        100.0 * count(*) filter (where flag_haz or flag_waz or flag_whz) / count(*) as pct_flagged,
        100.0 * count(*) filter (where is_wrong_position) / count(*) as pct_wrong_position,
        100.0 * count(*) filter (where flag_c9mo) / count(*) as pct_standing_under_9_months,
        count(*) filter (where sex = 1) / nullif(count(*) filter (where sex = 2), 0) as sex_ratio,
        -- against the unrounded HAZ: between two 2-decimal values a gap of exactly 0.05 is float noise
        100.0 * count(*) filter (where abs(haz_unrounded - haz_export) > 0.05) / nullif(count(haz_export), 0)
            as pct_export_haz_disagrees,
        -- the stated age (Usia Saat Ukur) and the dates disagree by more than a month: a mistyped date or age
        count(*) filter (where abs(age_days - age_days_export) > 31) as n_export_age_disagrees
    from with_position
    group by unit_level, unit_key, period
),

rejected_dates as (
    -- rows quarantined for an impossible, missing or inconsistent date, by their village: the village that sent its own
    -- file, or for a district- or regency-wide file the village the row's names resolved to (kept in its payload)
    select
        coalesce(
            case when submissions.submitter_level = 'village' then submissions.submitter_code end,
            json_extract_string(rejected.payload, '$.village_code')
        ) as village_code,
        submissions.period,
        count(distinct (rejected.submission_id, rejected.row_number)) as n_bad_dates
    from quarantine.rejected_rows as rejected
    inner join raw.submissions as submissions using (submission_id)
    where rejected.stream = 'child_measurements'
        and (
            rejected.reason_code in (
                'invalid_date', 'birth_after_measurement', 'measured_outside_period', 'measured_after_received'
            )
            or (rejected.reason_code = 'missing_value' and rejected.column_name in ('birth_date', 'measured_on'))
        )
    group by all
),

final as (
    select
        measures.unit_level,
        measures.unit_key,
        measures.unit_name,
        measures.region_code,
        measures.period,
        measures.n_measurements,
        round(measures.sd_haz, 6) as sd_haz,
        round(measures.sd_waz, 6) as sd_waz,
        round(measures.sd_whz, 6) as sd_whz,
        round(measures.pct_flagged, 6) as pct_flagged,
        round(height.dps, 6) as dps_height,
        round(height.pct_digit_0, 6) as pct_height_digit_0,
        round(height.pct_digit_5, 6) as pct_height_digit_5,
        round(weight.dps, 6) as dps_weight,
        round(weight.pct_digit_0, 6) as pct_weight_digit_0,
        round(weight.pct_digit_5, 6) as pct_weight_digit_5,
        round(measures.pct_wrong_position, 6) as pct_wrong_position,
        round(measures.pct_standing_under_9_months, 6) as pct_standing_under_9_months,
        round(measures.sex_ratio, 6) as sex_ratio,
        round(measures.pct_export_haz_disagrees, 6) as pct_export_haz_disagrees,
        measures.n_export_age_disagrees,
        case when measures.unit_level = 'village' then coalesce(rejected_dates.n_bad_dates, 0) end as n_bad_dates
    from measures
    left join digit_preference as height
        on height.unit_level = measures.unit_level and height.unit_key = measures.unit_key
        and height.period = measures.period and height.variable = 'height'
    left join digit_preference as weight
        on weight.unit_level = measures.unit_level and weight.unit_key = measures.unit_key
        and weight.period = measures.period and weight.variable = 'weight'
    left join rejected_dates
        on measures.unit_level = 'village' and rejected_dates.village_code = measures.region_code
        and rejected_dates.period = measures.period
)

-- rounded to 6 decimals: parallel aggregation must not make two identical runs differ in the last bit
select * from final
order by unit_level, unit_key, period
