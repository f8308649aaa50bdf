-- Kelengkapan laporan / Submission completeness: expected submitters per stream for the
-- latest period each stream names (a month for e-PPGBM, a quarter or a year for the others).
with latest as (
    select stream, max(period) as period
    from marts.mart_submission_completeness
    group by stream
)
select
    c.stream,
    case c.stream
        when 'child_measurements' then 'e-PPGBM: pengukuran balita / child measurements'
        when 'households' then 'P3KE: keluarga / households'
        when 'village_scorecard' then 'Skor konvergensi desa / Village scorecard'
        when 'aksi_reports' then 'Laporan 8 aksi / Convergence action reports'
        when 'lokus_villages' then 'Desa lokus / Focus villages'
        when 'opd_programmes' then 'Program OPD / OPD programmes'
        when 'survey_figures' then 'Angka survei / Survey figures'
        else c.stream
    end as stream_label,
    c.period,
    count(*) as n_expected,
    count(*) filter (where c.is_submitted) as n_submitted,
    count(*) filter (where c.submission_status = 'on_time') as n_on_time,
    count(*) filter (where c.submission_status = 'late') as n_late,
    count(*) filter (where c.submission_status = 'missing') as n_missing,
    count(*) filter (where c.submission_status = 'rejected_only') as n_rejected_only,
    count(*) filter (where c.submission_status = 'set_aside') as n_set_aside,
    round(100.0 * count(*) filter (where c.is_submitted) / count(*), 1) as pct_submitted,
    min(c.deadline_date) as deadline_date
from marts.mart_submission_completeness as c
join latest as l on l.stream = c.stream and l.period = c.period
where c.is_expected_submitter
group by c.stream, c.period
order by c.stream
