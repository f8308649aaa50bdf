-- one row per submission stream: who submits it, how often, and the reporting deadline.
-- A submission is due by the end of the deadline_days_after_period_end-th day after its period ends
-- (e.g. August 2024 is due on 10 September 2024), counted in WIB (UTC+7).
with streams (stream, submitter_level, period_grain, deadline_days_after_period_end) as (
    values
        ('child_measurements', 'village', 'month', 10),
        ('households', 'village', 'year', 10),
        ('village_scorecard', 'village', 'quarter', 10),
        ('aksi_reports', 'regency', 'year', 10),
        ('lokus_villages', 'regency', 'year', 10),
        ('survey_figures', 'regency', 'year', 10),
        ('opd_programmes', 'opd', 'quarter', 10)
),

final as (
    select
        stream::varchar as stream,
        submitter_level::varchar as submitter_level,
        period_grain::varchar as period_grain,
        deadline_days_after_period_end::integer as deadline_days_after_period_end
    from streams
)

select * from final
order by stream
