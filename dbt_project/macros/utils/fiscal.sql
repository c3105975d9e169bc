{#-
    Fiscal calendar arithmetic (var `fiscal_year_start_month`, 1 = January).

    Shifting a date forward by (13 - start month) mod 12 months maps its fiscal year onto a
    calendar year: the shifted date's month, quarter and year are the fiscal month, quarter and
    year (a fiscal year is named by the calendar year in which it ends; var `fiscal_year_named_by`
    = 'start' names it by the year it starts). Month arithmetic may clamp the day, never the month.
-#}
{% macro fiscal_start_month() -%}
    {%- set month = var('fiscal_year_start_month', 1) | int -%}
    {%- if month < 1 or month > 12 -%}
        {{ exceptions.raise_compiler_error(
            "var 'fiscal_year_start_month' must be 1-12, got " ~ month) }}
    {%- endif -%}
    {{ return(month) }}
{%- endmacro %}

{% macro fiscal_shift_months() -%}
    {{ return((13 - salesops.fiscal_start_month()) % 12) }}
{%- endmacro %}

{% macro fiscal_shifted(date_expr) -%}
    {%- set shift = salesops.fiscal_shift_months() -%}
    {%- if shift == 0 -%}
        cast({{ date_expr }} as date)
    {%- else -%}
        cast({{ dbt.dateadd('month', shift, date_expr) }} as date)
    {%- endif -%}
{%- endmacro %}

{% macro fiscal_year(date_expr) -%}
    {%- set offset = 1 if (var('fiscal_year_named_by', 'end') == 'start'
                           and salesops.fiscal_start_month() != 1) else 0 -%}
    ({{ salesops.extract_date_part('year', salesops.fiscal_shifted(date_expr)) }} - {{ offset }})
{%- endmacro %}

{% macro fiscal_quarter_number(date_expr) -%}
    {{ salesops.extract_date_part('quarter', salesops.fiscal_shifted(date_expr)) }}
{%- endmacro %}

{% macro fiscal_month_number(date_expr) -%}
    {{ salesops.extract_date_part('month', salesops.fiscal_shifted(date_expr)) }}
{%- endmacro %}

{#- First day of the fiscal period (quarter or year) containing the date. -#}
{% macro fiscal_period_start(period, date_expr) -%}
    {%- set shift = salesops.fiscal_shift_months() -%}
    cast({{ dbt.dateadd('month', -shift, dbt.date_trunc(period, salesops.fiscal_shifted(date_expr))) }} as date)
{%- endmacro %}

{#- 'FY2026-Q1' and 'FY2026-M01' labels. -#}
{% macro fiscal_quarter_label(date_expr) -%}
    {{ dbt.concat(["'FY'", dbt.cast(salesops.fiscal_year(date_expr), dbt.type_string()),
                   "'-Q'", dbt.cast(salesops.fiscal_quarter_number(date_expr), dbt.type_string())]) }}
{%- endmacro %}

{% macro fiscal_month_label(date_expr) -%}
    {{ dbt.concat(["'FY'", dbt.cast(salesops.fiscal_year(date_expr), dbt.type_string()),
                   "'-M'", salesops.lpad_2(salesops.fiscal_month_number(date_expr))]) }}
{%- endmacro %}

{% macro lpad_2(int_expr) -%}
    {{ dbt.right(dbt.concat(["'0'", dbt.cast(int_expr, dbt.type_string())]), 2) }}
{%- endmacro %}
