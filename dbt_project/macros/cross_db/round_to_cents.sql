{#- An amount rounded to the cent. PostgreSQL has round(numeric, int) only, not for doubles;
    the result is a double again on every engine. -#}
{% macro round_to_cents(expr) -%}
    {{ return(adapter.dispatch('round_to_cents', 'salesops')(expr)) }}
{%- endmacro %}

{% macro default__round_to_cents(expr) -%}
    cast(round({{ expr }}, 2) as {{ salesops.type_double() }})
{%- endmacro %}

{% macro postgres__round_to_cents(expr) -%}
    cast(round(cast({{ expr }} as numeric), 2) as {{ salesops.type_double() }})
{%- endmacro %}
