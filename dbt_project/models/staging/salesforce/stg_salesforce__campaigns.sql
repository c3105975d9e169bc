{{ config(enabled=source_enabled('salesforce')) }}

{%- set columns = {
    'id': 'id',
    'name': 'string',
    'type': 'string',
    'status': 'string',
    'parent_id': 'id',
    'start_date': 'date',
    'end_date': 'date',
    'budgeted_cost': 'float',
    'actual_cost': 'float',
    'is_active': 'boolean',
    'channel_c': 'string',
    'is_deleted': 'boolean',
    'created_date': 'timestamp',
} %}

with

source as (
    {{ select_source('salesforce', 'campaign', columns) }}
),

renamed as (
    select
        id as campaign_id,
        parent_id as parent_campaign_id,
        name as campaign_name,
        type as campaign_type,
        status as campaign_status,
        coalesce(channel_c, type) as channel,
        budgeted_cost,
        actual_cost,
        coalesce(is_active, false) as is_active,
        start_date,
        end_date,
        created_date as created_at,
        _loaded_at

    from source
    where not coalesce(is_deleted, false)
)

select * from renamed
