{#-
    Models land in the schema named by their folder config (staging, intermediate, marts, seeds),
    not in "<target schema>_<custom schema>": BI tools read `marts` in every environment, and
    environments are separated by warehouse file (target), not by schema prefix.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
