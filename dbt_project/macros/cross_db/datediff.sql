{#- dbt.datediff as a bigint on every engine: PostgreSQL gives an integer for days and a double
    for months, DuckDB a bigint, so contracts and incremental schema checks would differ. -#}
{% macro datediff(first_date, second_date, datepart) -%}
    cast({{ dbt.datediff(first_date, second_date, datepart) }} as {{ dbt.type_bigint() }})
{%- endmacro %}
