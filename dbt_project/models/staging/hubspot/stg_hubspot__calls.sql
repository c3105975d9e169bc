{{ config(enabled=source_enabled('hubspot')) }}

{%- set columns = {
    'id': 'id',
    'hs_timestamp': 'timestamp',
    'hs_call_title': 'string',
    'hs_call_status': 'string',
    'hs_call_duration': 'float',
    'hubspot_owner_id': 'id',
    'hs_createdate': 'timestamp',
    'created_at': 'timestamp',
    'updated_at': 'timestamp',
    'archived': 'boolean',
} %}

with

source as (
    {{ select_source('hubspot', 'calls', columns) }}
),

renamed as (
    select
        id as call_id,
        hubspot_owner_id as owner_rep_id,
        hs_call_title as call_title,
        upper(hs_call_status) as call_status,
        upper(hs_call_status) = 'COMPLETED' as is_completed,
        -- HubSpot reports call durations in milliseconds
        hs_call_duration / 60000.0 as duration_minutes,
        hs_timestamp as occurred_at,
        coalesce(hs_createdate, created_at) as created_at,
        updated_at as modified_at,
        _loaded_at

    from source
    where not coalesce(archived, false)
)

select * from renamed
