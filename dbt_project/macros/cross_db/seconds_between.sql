{#- Whole seconds from one timestamp to another, as a double: dividing it (fractional days =
    seconds / 86400.0) then gives a double on every engine, where PostgreSQL would turn an
    integer divided by a literal into numeric. -#}
{% macro seconds_between(start_expr, end_expr) -%}
    {{ return(adapter.dispatch('seconds_between', 'salesops')(start_expr, end_expr)) }}
{%- endmacro %}

{% macro default__seconds_between(start_expr, end_expr) -%}
    cast({{ dbt.datediff(start_expr, end_expr, 'second') }} as {{ salesops.type_double() }})
{%- endmacro %}
