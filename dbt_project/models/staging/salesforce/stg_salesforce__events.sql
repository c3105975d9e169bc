{{ config(enabled=source_enabled('salesforce')) }}

{%- set columns = {
    'id': 'id',
    'subject': 'string',
    'who_id': 'id',
    'what_id': 'id',
    'account_id': 'id',
    'owner_id': 'id',
    'type': 'string',
    'activity_date': 'date',
    'start_date_time': 'timestamp',
    'end_date_time': 'timestamp',
    'duration_in_minutes': 'int',
    'is_deleted': 'boolean',
    'created_date': 'timestamp',
    'last_modified_date': 'timestamp',
} %}

with

source as (
    {{ select_source('salesforce', 'event', columns) }}
),

renamed as (
    select
        id as event_id,
        who_id,
        what_id,
        account_id,
        owner_id as owner_rep_id,
        subject,
        type as event_type,
        duration_in_minutes,
        activity_date,
        start_date_time as started_at,
        end_date_time as ended_at,
        created_date as created_at,
        last_modified_date as modified_at,
        _loaded_at

    from source
    where not coalesce(is_deleted, false)
)

select * from renamed
