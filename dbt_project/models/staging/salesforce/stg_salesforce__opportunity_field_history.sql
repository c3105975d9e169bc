{{ config(enabled=source_enabled('salesforce')) }}

{%- set columns = {
    'id': 'id',
    'opportunity_id': 'id',
    'field': 'string',
    'data_type': 'string',
    'old_value': 'string',
    'new_value': 'string',
    'is_deleted': 'boolean',
    'created_date': 'timestamp',
} %}

with

source as (
    {{ select_source('salesforce', 'opportunity_field_history', columns) }}
),

renamed as (
    select
        id as field_history_id,
        opportunity_id,
        field as field_name,
        data_type,
        old_value,
        new_value,
        created_date as changed_at,
        _loaded_at

    from source
    where not coalesce(is_deleted, false)
)

select * from renamed
