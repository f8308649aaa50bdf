-- One row per pseudonymous child per measurement, with WHO z-scores recomputed from the raw values.
with measurements as (
    select * from staging.stg_child_measurements
),

zscores as (
    select * from staging.stg_child_zscores
),

final as (
    select
        measurements.child_id,
        measurements.village_code,
        measurements.period,
        measurements.measured_on,
        measurements.age_days,
        measurements.age_days_export,
        measurements.sex,
        measurements.weight_kg,
        measurements.lenhei_cm,
        measurements.measure,
        zscores.haz,
        zscores.waz,
        zscores.whz,
        zscores.flag_haz,
        zscores.flag_waz,
        zscores.flag_whz,
        zscores.flag_c9mo,
        zscores.haz_unrounded,
        zscores.waz_unrounded,
        zscores.whz_unrounded,
        measurements.haz_export,
        measurements.waz_export,
        measurements.whz_export,
        measurements.puskesmas,
        measurements.posyandu,
        measurements.submission_id
    from measurements
    left join zscores
        on zscores.period = measurements.period
        and zscores.child_id = measurements.child_id
        and zscores.measured_on = measurements.measured_on
)

select * from final
