-- The eight convergence actions (8 aksi konvergensi) and the deadline each is held to.
select action_no, action_name_id, action_name_en, deadline_rule_id
from marts.dim_convergence_action
order by action_no
