{{ config(enabled=source_enabled('hubspot')) }}

{%- set columns = {
    'id': 'id',
    'hs_timestamp': 'timestamp',
    'hs_email_subject': 'string',
    'hs_email_status': 'string',
    'hs_email_direction': 'string',
    'hubspot_owner_id': 'id',
    'hs_createdate': 'timestamp',
    'created_at': 'timestamp',
    'updated_at': 'timestamp',
    'archived': 'boolean',
} %}

with

source as (
    {{ select_source('hubspot', 'emails', columns) }}
),

renamed as (
    select
        id as email_id,
        hubspot_owner_id as owner_rep_id,
        hs_email_subject as email_subject,
        upper(hs_email_status) as email_status,
        upper(hs_email_direction) as email_direction,
        upper(hs_email_status) = 'SENT' as is_completed,
        hs_timestamp as occurred_at,
        coalesce(hs_createdate, created_at) as created_at,
        updated_at as modified_at,
        _loaded_at

    from source
    where not coalesce(archived, false)
)

select * from renamed
