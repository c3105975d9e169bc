{#- Ratios are computed last from their numerator and denominator; an empty denominator gives
    NULL, never 0 and never a divide-by-zero error (Spark raises on it). -#}
{% macro safe_divide(numerator, denominator) -%}
    (cast({{ numerator }} as {{ salesops.type_double() }}) / nullif({{ denominator }}, 0))
{%- endmacro %}
