{#- base raised to exponent, as a double (time-decay attribution: 2 ^ (-days / half-life)). -#}
{% macro power(base, exponent) -%}
    {{ return(adapter.dispatch('power', 'salesops')(base, exponent)) }}
{%- endmacro %}

{% macro default__power(base, exponent) -%}
    power(cast({{ base }} as {{ salesops.type_double() }}), {{ exponent }})
{%- endmacro %}
