{#-
    Spark SQL (dbt-spark, Spark 4 with ANSI mode off as dbt-spark sets it) implementations of the
    cross-database macros of this folder. Spark's `timestamp` is an instant shown in the session
    time zone (profiles.yml sets spark.sql.session.timeZone), so it plays the role of DuckDB's
    company-local timestamp; `timestamp_ntz` (a naive value, e.g. from Fivetran) is read as UTC.
-#}

{% macro spark__to_local_timestamp(expr, source_dtype) -%}
    {%- set dtype = source_dtype | lower -%}
    {%- if 'timestamp_ntz' in dtype or 'without time zone' in dtype -%}
        cast(convert_timezone('UTC', current_timezone(), {{ expr }}) as timestamp)
    {%- elif 'timestamp' in dtype or 'date' in dtype -%}
        cast({{ expr }} as timestamp)
    {%- else -%}
        {{ salesops.parse_iso_timestamp(expr) }}
    {%- endif -%}
{%- endmacro %}

{% macro spark__parse_iso_timestamp(expr) -%}
    cast({{ expr }} as timestamp)
{%- endmacro %}

{% macro spark__parse_hubspot_datetime(expr) -%}
    case
        when {{ expr }} rlike '^[0-9]{10,}$'
            then timestamp_millis(cast({{ expr }} as bigint))
        else cast({{ expr }} as timestamp)
    end
{%- endmacro %}

{#- dbt's generic date_spine cross-joins powers of two to number the days, which Spark plans
    and shuffles slowly (over a minute for the 2015-2035 calendar); a day spine is one
    `sequence` here. Other grains use dbt's default. -#}
{% macro spark__date_spine(datepart, start_date, end_date) -%}
    {%- if datepart | lower == 'day' -%}
        select explode(sequence(cast({{ start_date }} as date), date_sub(cast({{ end_date }} as date), 1), interval 1 day)) as date_day
    {%- else -%}
        {{ dbt.default__date_spine(datepart, start_date, end_date) }}
    {%- endif -%}
{%- endmacro %}
