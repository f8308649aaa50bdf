-- One row per Kemendagri region code at every level: province, regency, district, village.
with regions as (
    select * from raw.region_master
),

coded as (
    select
        code as region_code,
        level as region_level,
        name as region_name,
        parent_code,
        left(code, 2) as province_code,
        case when level <> 'province' then left(code, 5) end as regency_code,
        case when level in ('district', 'village') then left(code, 8) end as district_code,
        case when level = 'village' then code end as village_code
    from regions
),

final as (
    select
        coded.region_code,
        coded.region_level,
        coded.region_name,
        coded.parent_code,
        coded.province_code,
        coded.regency_code,
        regency.region_name as regency_name,
        coded.district_code,
        district.region_name as district_name,
        coded.village_code,
        case
            when coded.region_level <> 'village' then null
            when split_part(coded.region_code, '.', 4) like '1%' then 'kelurahan'
            else 'desa'
        end as village_type,
        coded.regency_code is not null
        and split_part(coded.regency_code, '.', 2)::integer >= 71 as is_city
    from coded
    left join coded as regency on regency.region_code = coded.regency_code
    left join coded as district on district.region_code = coded.district_code
)

select * from final
order by region_code
