-- One row per feature window: as-of date D, first day of the window, look-back for cadences.
with windows as (

    {{ feature_windows() }}

)

select * from windows
