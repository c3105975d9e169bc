{#- A double-precision float for money and ratios. dbt's type_float() is a 4-byte float on
    DuckDB, which would lose cents. -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'salesops')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    {{ return(dbt.type_float()) }}
{%- endmacro %}

{% macro duckdb__type_double() -%}
    {{ return('double') }}
{%- endmacro %}

{% macro spark__type_double() -%}
    {{ return('double') }}
{%- endmacro %}
