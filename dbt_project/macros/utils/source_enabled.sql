{#- var `salesops_sources` switches whole sources off (e.g. a Salesforce-only company). -#}
{% macro source_enabled(source_name) -%}
    {{ return(source_name in var('salesops_sources', ['salesforce', 'hubspot', 'google_ads'])) }}
{%- endmacro %}
