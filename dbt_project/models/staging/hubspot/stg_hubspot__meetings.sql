{{ config(enabled=source_enabled('hubspot')) }}

{%- set columns = {
    'id': 'id',
    'hs_timestamp': 'timestamp',
    'hs_meeting_title': 'string',
    'hs_meeting_outcome': 'string',
    'hs_meeting_start_time': 'timestamp',
    'hs_meeting_end_time': 'timestamp',
    'hubspot_owner_id': 'id',
    'hs_createdate': 'timestamp',
    'created_at': 'timestamp',
    'updated_at': 'timestamp',
    'archived': 'boolean',
} %}

with

source as (
    {{ select_source('hubspot', 'meetings', columns) }}
),

renamed as (
    select
        id as meeting_id,
        hubspot_owner_id as owner_rep_id,
        hs_meeting_title as meeting_title,
        upper(hs_meeting_outcome) as meeting_outcome,
        upper(hs_meeting_outcome) = 'COMPLETED' as is_completed,
        {{ seconds_between('hs_meeting_start_time', 'hs_meeting_end_time') }}
        / 60.0 as duration_minutes,
        coalesce(hs_meeting_start_time, hs_timestamp) as occurred_at,
        coalesce(hs_createdate, created_at) as created_at,
        updated_at as modified_at,
        _loaded_at

    from source
    where not coalesce(archived, false)
)

select * from renamed
