-- Prevalensi stunting per kecamatan / Stunting prevalence per district, every month (routine
-- e-PPGBM, pooled, 95% Wilson interval). Small districts have wide intervals: read them first.
select
    p.region_code,
    r.regency_code,
    r.regency_name,
    r.district_name,
    p.period,
    p.n_children,
    p.n_cases,
    round(p.pct_prevalence_pooled, 1) as pct_pooled,
    round(p.ci_low, 1) as ci_low,
    round(p.ci_high, 1) as ci_high
from marts.fct_stunting_prevalence as p
join marts.dim_region as r on r.region_code = p.region_code
where p.indicator = 'stunting' and p.region_level = 'district'
order by p.period, p.region_code
