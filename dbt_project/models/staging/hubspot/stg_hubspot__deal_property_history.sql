{{ config(enabled=source_enabled('hubspot')) }}

{%- set columns = {
    'deal_id': 'id',
    'property': 'string',
    'value': 'string',
    'timestamp': 'timestamp',
    'source_type': 'string',
} %}

with

source as (
    {{ select_source('hubspot', 'deal_property_history', columns) }}
),

renamed as (
    select
        deal_id,
        property as property_name,
        -- values stay text as the API gives them; they are typed where they are used
        value as property_value,
        timestamp as changed_at,
        source_type,
        _loaded_at

    from source
)

select * from renamed
