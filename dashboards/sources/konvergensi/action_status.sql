-- 8 aksi konvergensi x 8 kabupaten/kota / The 8 convergence actions x 8 regencies, latest year.
-- is_overdue: not completed and past its deadline on as_of_date (reported or not).
select
    s.regency_code,
    r.region_name as regency_name,
    s.year,
    s.action_no,
    a.action_name_id,
    a.action_name_en,
    s.status,
    case s.status
        when 'verified' then 'Terverifikasi / Verified'
        when 'uploaded' then 'Terunggah / Uploaded'
        when 'in_progress' then 'Dalam proses / In progress'
        when 'not_started' then 'Belum dimulai / Not started'
        when 'not_reported' then 'Tidak dilaporkan / Not reported'
        else s.status
    end as status_label,
    s.is_completed,
    s.is_overdue,
    s.days_overdue,
    s.is_late,
    s.days_late,
    s.deadline_date,
    s.completed_on,
    s.as_of_date,
    s.n_evidence
from marts.fct_convergence_action_status as s
join marts.dim_convergence_action as a on a.action_no = s.action_no
left join marts.dim_region as r on r.region_code = s.regency_code
where s.year = (select max(year) from marts.fct_convergence_action_status)
order by s.regency_code, s.action_no
