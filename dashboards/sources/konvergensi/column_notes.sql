-- The warehouse's own column descriptions (COMMENT ON, duckdb_columns().comment) for the caveats
-- the pages quote, so a page says what the mart says.
select table_name, column_name, comment
from duckdb_columns()
where schema_name = 'marts'
  and (table_name, column_name) in (
    ('mart_target_progress', 'stunting_status'),
    ('mart_target_progress', 'survey_figure_basis'),
    ('mart_target_progress', 'pct_stunting_routine_pooled'),
    ('mart_target_progress', 'pct_stunting_routine_balita_weighted'),
    ('mart_target_progress', 'actions_status'),
    ('fct_stunting_prevalence', 'pct_prevalence_pooled'),
    ('fct_stunting_prevalence', 'pct_prevalence_balita_weighted'),
    ('fct_stunting_prevalence', 'pct_coverage'),
    ('fct_extreme_poverty', 'pct_extreme_poor_registered'),
    ('fct_extreme_poverty', 'population_covered'),
    ('fct_extreme_poverty', 'pct_extreme_poverty_bps'),
    ('fct_convergence_action_status', 'is_overdue'),
    ('fct_convergence_action_status', 'deadline_date'),
    ('mart_submission_completeness', 'is_submitted'),
    ('mart_submission_completeness', 'submission_status')
  )
order by table_name, column_name
