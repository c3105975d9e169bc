{#-
    The as-of date of every period metric (sales-metrics §13.1): var `as_of_date` (YYYY-MM-DD).
    Unset, it defaults to the last complete day in SALESOPS_TIMEZONE, computed once at compile
    time; SQL never reads the build clock.
-#}
{% macro as_of_date_value() -%}
    {%- set value = var('as_of_date', none) -%}
    {%- if value is none or (value | string | trim) == '' -%}
        {%- set tz = modules.pytz.timezone(env_var('SALESOPS_TIMEZONE', '') or 'UTC') -%}
        {%- set today = modules.datetime.datetime.now(tz).date() -%}
        {%- set value = (today - modules.datetime.timedelta(days=1)).isoformat() -%}
    {%- endif -%}
    {%- set value = value | string | trim -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', value) -%}
        {{ exceptions.raise_compiler_error(
            "var 'as_of_date' must be a date like 2026-11-26, got '" ~ value ~ "'") }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}

{% macro as_of_date() -%}
    cast('{{ salesops.as_of_date_value() }}' as date)
{%- endmacro %}

{#- The first instant after the as-of date: states "at the end of D" are valid just before it. -#}
{% macro as_of_end_timestamp() -%}
    cast({{ dbt.dateadd('day', 1, salesops.as_of_date()) }} as {{ dbt.type_timestamp() }})
{%- endmacro %}
