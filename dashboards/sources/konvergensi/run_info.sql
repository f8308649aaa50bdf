-- The run date the warehouse's overdue flags are as of (reference.run_date).
select as_of_date, source from reference.run_date
