-- one row per convergence action (aksi konvergensi 1-8), with the deadline rule used for the late flag.
with actions as (
    select * from reference.convergence_action_settings
),

final as (
    select
        action_no,
        action_name_id,
        action_name_en,
        output_description,
        responsible_level,
        typical_timing,
        deadline_month,
        deadline_day,
        deadline_year_offset,
        case
            when deadline_year_offset = 0
                then 'Selesai paling lambat ' || deadline_day::varchar || '/' || deadline_month::varchar || ' tahun berjalan'
            else 'Selesai paling lambat ' || deadline_day::varchar || '/' || deadline_month::varchar || ' tahun berikutnya'
        end as deadline_rule_id
    from actions
)

select * from final
order by action_no
