{{ config(materialized='table') }}

{#- One row per day of vars calendar_start_date..calendar_end_date: the fiscal calendar's spine. -#}

with

spine as (
    {{ dbt.date_spine(
        'day',
        "cast('" ~ var('calendar_start_date') ~ "' as date)",
        dbt.dateadd('day', 1, "cast('" ~ var('calendar_end_date') ~ "' as date)")
    ) }}
)

select cast(date_day as date) as date_day
from spine
