-- Prevalensi stunting / Stunting prevalence per regency and for the province, every month
-- (routine e-PPGBM, pooled over the children measured, with its 95% Wilson interval).
-- pct_balita_weighted (province only) is the routine figure to set beside a survey.
select
    p.region_code,
    p.region_level,
    coalesce(r.region_name, p.region_code) as region_name,
    case when p.region_level = 'province' then 0 else 1 end as sort_group,
    p.period,
    p.n_children,
    p.n_cases,
    p.n_severe,
    p.n_flagged,
    round(p.pct_prevalence_pooled, 1) as pct_pooled,
    round(p.ci_low, 1) as ci_low,
    round(p.ci_high, 1) as ci_high,
    round(p.pct_coverage, 2) as pct_coverage,
    round(p.pct_prevalence_balita_weighted, 1) as pct_balita_weighted,
    round(p.ci_low_balita_weighted, 1) as ci_low_balita_weighted,
    round(p.ci_high_balita_weighted, 1) as ci_high_balita_weighted,
    round(p.pct_balita_in_weighted, 1) as pct_balita_in_weighted
from marts.fct_stunting_prevalence as p
left join marts.dim_region as r on r.region_code = p.region_code
where p.indicator = 'stunting' and p.region_level in ('province', 'regency')
order by p.period, sort_group, p.region_code
