{#-
    Forecast helpers (issue 7, docs/forecast-methods.md).

    forecast_age_bucket: the age of an open deal on a date, in buckets the conversion forecast
    learns rates for: '000-030', '031-090', '091-180', '181+' days since creation.
-#}
{% macro forecast_age_bucket(created_date, on_date) -%}
    case
        when {{ salesops.datediff(created_date, on_date, 'day') }} <= 30 then '000-030'
        when {{ salesops.datediff(created_date, on_date, 'day') }} <= 90 then '031-090'
        when {{ salesops.datediff(created_date, on_date, 'day') }} <= 180 then '091-180'
        else '181+'
    end
{%- endmacro %}

{#- Fewer observations than this in a stage x age x segment cell: use the stage's rate. -#}
{% macro forecast_min_observations() -%}
    {{ return(var('forecast_conversion_min_observations', 5) | int) }}
{%- endmacro %}
