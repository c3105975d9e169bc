{#-
    One row per day with its fiscal year, quarter and month (var fiscal_year_start_month; a
    fiscal year is named by the calendar year in which it ends). Labels: 'FY2026-Q1',
    'FY2026-M01'. Every period has its first and last day.
-#}

with

days as (
    select date_day from {{ ref('int_dates_spined') }}
),

periods as (
    select
        date_day,
        {{ fiscal_year('date_day') }} as fiscal_year,
        {{ fiscal_quarter_number('date_day') }} as fiscal_quarter_number,
        {{ fiscal_month_number('date_day') }} as fiscal_month_number,
        {{ fiscal_quarter_label('date_day') }} as fiscal_quarter,
        {{ fiscal_month_label('date_day') }} as fiscal_month,
        {{ fiscal_period_start('year', 'date_day') }} as year_start,
        {{ fiscal_period_start('quarter', 'date_day') }} as quarter_start,
        cast({{ dbt.date_trunc('month', 'date_day') }} as date) as month_start
    from days
),

final as (
    select
        date_day,
        fiscal_year,
        {{ dbt.concat(["'FY'", dbt.cast("fiscal_year", dbt.type_string())]) }}
            as fiscal_year_label,
        fiscal_quarter,
        fiscal_quarter_number,
        fiscal_month,
        fiscal_month_number,
        year_start,
        cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 12, 'year_start')) }} as date)
            as year_end,
        quarter_start,
        cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 3, 'quarter_start')) }} as date)
            as quarter_end,
        month_start,
        cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, 'month_start')) }} as date)
            as month_end,
        {{ salesops.datediff('quarter_start', 'date_day', 'day') }}
        + 1 as day_of_quarter,
        {{ salesops.datediff('quarter_start',
                        dbt.dateadd('month', 3, 'quarter_start'), 'day') }} as days_in_quarter,
        {{ salesops.datediff('month_start', 'date_day', 'day') }}
        + 1 as day_of_month,
        {{ salesops.datediff('month_start',
                        dbt.dateadd('month', 1, 'month_start'), 'day') }} as days_in_month
    from periods
)

select * from final
