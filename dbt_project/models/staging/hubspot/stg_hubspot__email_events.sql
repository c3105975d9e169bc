{{ config(enabled=source_enabled('hubspot')) }}

{%- set columns = {
    'id': 'id',
    'type': 'string',
    'created': 'timestamp',
    'recipient': 'string',
    'email_campaign_id': 'id',
} %}

with

source as (
    {{ select_source('hubspot', 'email_events', columns) }}
),

renamed as (
    select
        id as email_event_id,
        email_campaign_id,
        upper(type) as event_type,
        lower(trim(recipient)) as recipient_email,
        created as occurred_at,
        _loaded_at

    from source
)

select * from renamed
