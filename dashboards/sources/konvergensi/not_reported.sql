-- Siapa yang belum melapor / Who has not reported: expected submitters with no accepted file
-- (missing, rejected_only or set_aside) in the latest period of each stream, with where they are.
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
    c.submitter_level,
    c.submitter_code,
    coalesce(r.region_name, o.opd_name, c.submitter_code) as submitter_name,
    r.regency_code,
    r.regency_name,
    r.district_name,
    c.submission_status,
    case c.submission_status
        when 'missing' then 'Belum melapor / Missing'
        when 'rejected_only' then 'Hanya file ditolak / Rejected files only'
        when 'set_aside' then 'Disisihkan operator / Set aside'
        else c.submission_status
    end as status_label,
    c.n_files_rejected,
    c.deadline_date
from marts.mart_submission_completeness as c
join latest as l on l.stream = c.stream and l.period = c.period
left join marts.dim_region as r on r.region_code = c.region_code
left join marts.dim_opd as o on o.opd_code = c.opd_code
where c.is_expected_submitter and not c.is_submitted
order by c.stream, c.submitter_code
