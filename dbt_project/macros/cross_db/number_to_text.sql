{#- A double as text the way DuckDB prints it (-5000.0, 0.25), for messages that must read the
    same on every engine: PostgreSQL prints whole doubles without the ".0". -#}
{% macro number_to_text(expr) -%}
    {{ return(adapter.dispatch('number_to_text', 'salesops')(expr)) }}
{%- endmacro %}

{% macro default__number_to_text(expr) -%}
    cast({{ expr }} as {{ dbt.type_string() }})
{%- endmacro %}

{% macro postgres__number_to_text(expr) -%}
    case
        when {{ expr }} = trunc({{ expr }}) and abs({{ expr }}) < 1e15
            then cast(cast({{ expr }} as numeric) as text) || '.0'
        else cast({{ expr }} as text)
    end
{%- endmacro %}
