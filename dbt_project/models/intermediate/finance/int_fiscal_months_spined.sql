{{ config(materialized='table') }}

{#- One row per fiscal month with its quarter and first and last days
    (var fiscal_year_start_month). -#}

with

days as (
    select
        date_day,
        {{ fiscal_year('date_day') }} as fiscal_year,
        {{ fiscal_quarter_label('date_day') }} as fiscal_quarter,
        {{ fiscal_month_label('date_day') }} as fiscal_month,
        {{ fiscal_period_start('quarter', 'date_day') }} as quarter_start
    from {{ ref('int_dates_spined') }}
),

months as (
    select
        fiscal_year,
        fiscal_quarter,
        fiscal_month,
        min(date_day) as period_start,
        max(date_day) as period_end,
        min(quarter_start) as quarter_start,
        cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 3, 'min(quarter_start)')) }} as date)
            as quarter_end
    from days
    group by fiscal_year, fiscal_quarter, fiscal_month
)

select * from months
