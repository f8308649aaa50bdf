-- one row per provincial OPD (organisasi perangkat daerah) expected to report stunting/poverty programmes.
-- OPDs that submit without being listed here still appear in marts.dim_opd, flagged as not expected.
with opds (opd_code, opd_name, opd_name_en) as (
    values
        ('BAPPEDA', 'Badan Perencanaan Pembangunan Daerah', 'Regional development planning agency'),
        ('DINKES', 'Dinas Kesehatan', 'Health office'),
        ('DP3AKKB', 'Dinas Pemberdayaan Perempuan, Perlindungan Anak, Kependudukan dan Keluarga Berencana',
         'Women empowerment, child protection, population and family planning office'),
        ('DINSOS', 'Dinas Sosial', 'Social affairs office'),
        ('DPMD', 'Dinas Pemberdayaan Masyarakat dan Desa', 'Community and village empowerment office'),
        ('DPUPR', 'Dinas Pekerjaan Umum dan Penataan Ruang', 'Public works and spatial planning office'),
        ('DISKOMINFO', 'Dinas Komunikasi, Informatika, Statistik dan Persandian',
         'Communication, informatics and statistics office')
),

final as (
    select
        opd_code::varchar as opd_code,
        opd_name::varchar as opd_name,
        opd_name_en::varchar as opd_name_en
    from opds
)

select * from final
order by opd_code
