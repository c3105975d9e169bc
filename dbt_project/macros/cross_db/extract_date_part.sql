{#- A calendar part (year, quarter, month, day) of a date as an integer. -#}
{% macro extract_date_part(part, date_expr) -%}
    {{ return(adapter.dispatch('extract_date_part', 'salesops')(part, date_expr)) }}
{%- endmacro %}

{% macro default__extract_date_part(part, date_expr) -%}
    cast(extract({{ part }} from {{ date_expr }}) as {{ dbt.type_int() }})
{%- endmacro %}
