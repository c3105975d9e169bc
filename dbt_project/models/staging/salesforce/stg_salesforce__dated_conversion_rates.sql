{{ config(enabled=source_enabled('salesforce')) }}

{%- set columns = {
    'id': 'id',
    'iso_code': 'string',
    'conversion_rate': 'float',
    'start_date': 'date',
    'next_start_date': 'date',
} %}

with

source as (
    {{ select_source('salesforce', 'dated_conversion_rate', columns) }}
),

renamed as (
    select
        id as dated_conversion_rate_id,
        upper(iso_code) as currency_code,
        -- units of this currency per 1 unit of the org's corporate currency, valid on
        -- start_date <= d < next_start_date
        conversion_rate,
        start_date,
        next_start_date,
        _loaded_at

    from source
)

select * from renamed
