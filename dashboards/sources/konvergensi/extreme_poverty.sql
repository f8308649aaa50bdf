-- Kemiskinan ekstrem / Extreme poverty per regency and for the province, latest year: the BPS
-- rate (official) and the P3KE registered rate with the coverage it stands on, plus the social
-- assistance reaching desil-1 (extreme poor) households.
select
    e.region_code,
    e.region_level,
    coalesce(r.region_name, e.region_code) as region_name,
    case when e.region_level = 'province' then 0 else 1 end as sort_group,
    e.year,
    round(e.pct_extreme_poverty_bps, 2) as pct_extreme_poverty_bps,
    e.extreme_poverty_bps_basis,
    case e.extreme_poverty_bps_basis
        when 'published' then 'Dipublikasikan / Published'
        when 'derived_from_regencies' then 'Diturunkan dari kab/kota / Derived from regencies'
        else e.extreme_poverty_bps_basis
    end as bps_basis_label,
    round(e.pct_extreme_poor_registered, 2) as pct_extreme_poor_registered,
    e.pct_extreme_poor_registered_missing_reason,
    case e.pct_extreme_poor_registered_missing_reason
        when 'coverage_below_threshold' then 'Cakupan di bawah ambang / Coverage below threshold'
        when 'no_p3ke_data' then 'Tidak ada data P3KE / No P3KE data'
        when 'no_population' then 'Jumlah penduduk tidak ada / No population figure'
        else e.pct_extreme_poor_registered_missing_reason
    end as registered_missing_label,
    cast(e.pct_target_extreme_poverty as double) as pct_target_extreme_poverty,
    round(e.pct_gap_bps_to_target, 2) as pct_gap_bps_to_target,
    e.n_villages_reporting,
    e.n_villages,
    round(e.pct_villages_reporting, 2) as pct_villages_reporting,
    e.population,
    e.population_covered,
    round(e.pct_population_covered, 2) as pct_population_covered,
    e.n_households,
    e.n_households_desil_1,
    e.n_individuals_desil_1,
    round(e.pct_desil_1_pkh, 2) as pct_desil_1_pkh,
    round(e.pct_desil_1_bpnt_sembako, 2) as pct_desil_1_bpnt_sembako,
    round(e.pct_desil_1_bpum, 2) as pct_desil_1_bpum,
    round(e.pct_desil_1_bst, 2) as pct_desil_1_bst,
    round(e.pct_desil_1_no_assistance, 2) as pct_desil_1_no_assistance
from marts.fct_extreme_poverty as e
left join marts.dim_region as r on r.region_code = e.region_code
where e.region_level in ('province', 'regency')
  and e.year = (select max(year) from marts.fct_extreme_poverty)
order by sort_group, e.region_code
