{{ config(enabled=source_enabled('salesforce')) }}

{%- set columns = {
    'id': 'id',
    'iso_code': 'string',
    'conversion_rate': 'float',
    'is_active': 'boolean',
    'is_corporate': 'boolean',
} %}

with

source as (
    {{ select_source('salesforce', 'currency_type', columns) }}
),

renamed as (
    select
        id as currency_type_id,
        upper(iso_code) as currency_code,
        -- units of this currency per 1 unit of the org's corporate currency
        conversion_rate,
        coalesce(is_active, true) as is_active,
        coalesce(is_corporate, false) as is_corporate,
        _loaded_at

    from source
)

select * from renamed
