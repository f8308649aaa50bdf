-- one row per convergence action (aksi konvergensi 1-8): names, content and the deadline we hold regencies to.
-- Deadlines are our reading of the Bangda juknis timing (DOMAIN.md section 7), not official dates: the
-- completion date of an action is late when it falls after <deadline_month>/<deadline_day> of the
-- reporting year plus deadline_year_offset years.
with actions (
    action_no, action_name_id, action_name_en, output_description, responsible_level, typical_timing,
    deadline_month, deadline_day, deadline_year_offset
) as (
    values
        (1, 'Analisis Situasi Program Penurunan Stunting', 'Situation analysis',
         'Analysis of stunting distribution, service coverage and causes; priority (lokus) villages, interventions and data gaps',
         'Kabupaten/kota (Bappeda + OPD)', 'Start of year, before the RKPD is drafted (Q1)', 3, 31, 0),
        (2, 'Penyusunan Rencana Kegiatan', 'Activity plan',
         'Integrated programme/activity plan per OPD with locations and budget, written into RKPD/Renja and KUA-PPAS/APBD',
         'Kabupaten/kota OPD', 'With RKPD/Renja drafting (Q1-Q2)', 6, 30, 0),
        (3, 'Rembuk Stunting', 'Stunting summit',
         'Public forum and signed joint commitment (berita acara) of head of region, OPD, camat, village heads, DPRD',
         'Kabupaten/kota (also kecamatan and desa)', 'After the draft plan exists (Q2; dates vary)', 6, 30, 0),
        (4, 'Peraturan Bupati/Walikota tentang Peran Desa', 'Regent/mayor regulation on the village role',
         'Perbup/Perwal giving villages authority and guidance to fund convergence from Dana Desa',
         'Kabupaten/kota', 'Issued once, revised when needed (first semester)', 6, 30, 0),
        (5, 'Pembinaan Kader Pembangunan Manusia', 'Coaching human-development cadres (KPM)',
         'KPM appointed and trained in every village; village convergence monitoring',
         'Kabupaten/kota coaches, desa implements', 'All year', 12, 31, 0),
        (6, 'Sistem Manajemen Data Stunting', 'Stunting data management',
         'Data flows from village to regency (e-PPGBM, KPM reports, dashboards) and data-gap closure',
         'Kabupaten/kota (Bappeda, Dinkes, Diskominfo)', 'All year', 12, 31, 0),
        (7, 'Pengukuran dan Publikasi Data Stunting', 'Measurement and publication',
         'Measurement of all balita at posyandu, prevalence per village/kecamatan published, stunting case audits',
         'Kabupaten/kota via puskesmas, posyandu, desa', 'Measurement at least twice a year; publication afterwards',
         12, 31, 0),
        (8, 'Reviu Kinerja Tahunan', 'Annual performance review',
         'Review of implementation, coverage and budget realisation; recommendations for next year',
         'Kabupaten/kota (Bappeda)', 'End of year / early next year', 3, 31, 1)
),

final as (
    select
        action_no::integer as action_no,
        action_name_id::varchar as action_name_id,
        action_name_en::varchar as action_name_en,
        output_description::varchar as output_description,
        responsible_level::varchar as responsible_level,
        typical_timing::varchar as typical_timing,
        deadline_month::integer as deadline_month,
        deadline_day::integer as deadline_day,
        deadline_year_offset::integer as deadline_year_offset
    from actions
)

select * from final
order by action_no
