{#-
    Engine-specific SQL lives only in macros/cross_db/.

    to_local_timestamp: a raw timestamp as a timestamp without time zone in the company time
    zone (the session time zone, set from SALESOPS_TIMEZONE in profiles.yml). Time-zone-aware
    values convert; naive timestamps (Fivetran) are UTC; text is parsed as ISO 8601.
-#}
{% macro to_local_timestamp(expr, source_dtype) -%}
    {{ return(adapter.dispatch('to_local_timestamp', 'salesops')(expr, source_dtype)) }}
{%- endmacro %}

{% macro default__to_local_timestamp(expr, source_dtype) -%}
    {%- set dtype = source_dtype | lower -%}
    {%- if 'time zone' in dtype and 'without' not in dtype or 'timestamptz' in dtype -%}
        cast({{ expr }} as {{ dbt.type_timestamp() }})
    {%- elif 'timestamp' in dtype -%}
        cast(({{ expr }} at time zone 'UTC') as {{ dbt.type_timestamp() }})
    {%- elif 'date' in dtype -%}
        cast({{ expr }} as {{ dbt.type_timestamp() }})
    {%- else -%}
        {{ salesops.parse_iso_timestamp(expr) }}
    {%- endif -%}
{%- endmacro %}

{% macro duckdb__to_local_timestamp(expr, source_dtype) -%}
    {%- set dtype = source_dtype | lower -%}
    {%- if 'time zone' in dtype or 'timestamptz' in dtype -%}
        cast({{ expr }} as timestamp)
    {%- elif 'timestamp' in dtype -%}
        cast(timezone('UTC', {{ expr }}) as timestamp)
    {%- elif 'date' in dtype -%}
        cast({{ expr }} as timestamp)
    {%- else -%}
        {{ salesops.parse_iso_timestamp(expr) }}
    {%- endif -%}
{%- endmacro %}

{#- An ISO 8601 string ('2024-05-07T00:00:00.000Z') as a company-local timestamp; NULL if not one. -#}
{% macro parse_iso_timestamp(expr) -%}
    {{ return(adapter.dispatch('parse_iso_timestamp', 'salesops')(expr)) }}
{%- endmacro %}

{% macro default__parse_iso_timestamp(expr) -%}
    cast(cast({{ expr }} as timestamp with time zone) as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro duckdb__parse_iso_timestamp(expr) -%}
    cast(try_cast({{ expr }} as timestamptz) as timestamp)
{%- endmacro %}

{#- The filter that makes a select without FROM return no rows. -#}
{% macro empty_relation_filter() -%}
    {{ return(adapter.dispatch('empty_relation_filter', 'salesops')()) }}
{%- endmacro %}

{% macro default__empty_relation_filter() -%}
    where 1 = 0
{%- endmacro %}

{#- The first n characters of a string. -#}
{% macro left(expr, length) -%}
    substring({{ expr }}, 1, {{ length }})
{%- endmacro %}

{#- A HubSpot datetime as the property history gives it (ISO 8601, or epoch milliseconds from
    older APIs) as a company-local timestamp. -#}
{% macro parse_hubspot_datetime(expr) -%}
    {{ return(adapter.dispatch('parse_hubspot_datetime', 'salesops')(expr)) }}
{%- endmacro %}

{% macro default__parse_hubspot_datetime(expr) -%}
    {{ salesops.parse_iso_timestamp(expr) }}
{%- endmacro %}

{% macro duckdb__parse_hubspot_datetime(expr) -%}
    case
        when regexp_full_match({{ expr }}, '[0-9]{10,}')
            then cast(to_timestamp(cast({{ expr }} as bigint) / 1000.0) as timestamp)
        else cast(try_cast({{ expr }} as timestamptz) as timestamp)
    end
{%- endmacro %}
