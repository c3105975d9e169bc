{#-
    The mid-month rule (sales-metrics §5), kept in this one macro: a start on day 1-15 counts
    from the start of its own month, a start on day 16 or later from the next month.

    * Ramp month 1 (M1) of a rep = quota_counting_month(hire_date).
    * A rep who leaves counts through the month before quota_counting_month(the day after the
      termination date): a month counts when the rep is employed on its 15th.
    Both joiners and leavers are therefore pro-rated by whole months within a quarter or year.
-#}
{% macro quota_counting_month(date_expr) -%}
    case
        when {{ salesops.extract_date_part('day', date_expr) }} <= 15
            then cast({{ dbt.date_trunc('month', date_expr) }} as date)
        else cast({{ dbt.dateadd('month', 1, dbt.date_trunc('month', date_expr)) }} as date)
    end
{%- endmacro %}

{#- Tenure month of the month starting on month_start: 1 = M1; 0 or less before M1; NULL
    without a hire date. -#}
{% macro quota_tenure_month(hire_date_expr, month_start_expr) -%}
    ({{ salesops.datediff(salesops.quota_counting_month(hire_date_expr), month_start_expr, 'month') }} + 1)
{%- endmacro %}

{#- True when the month starting on month_start counts towards the rep's quota: from M1 up to
    the last month in which the rep was employed on the 15th. A NULL hire date counts from the
    beginning. -#}
{% macro quota_month_is_counted(hire_date_expr, termination_date_expr, month_start_expr) -%}
    (
        ({{ hire_date_expr }} is null
            or {{ month_start_expr }} >= {{ salesops.quota_counting_month(hire_date_expr) }})
        and ({{ termination_date_expr }} is null
            or {{ month_start_expr }} < {{ salesops.quota_counting_month(
                dbt.dateadd('day', 1, termination_date_expr)) }})
    )
{%- endmacro %}
