{{ config(enabled=source_enabled('salesforce')) }}

{%- set columns = {
    'id': 'id',
    'campaign_id': 'id',
    'lead_id': 'id',
    'contact_id': 'id',
    'status': 'string',
    'has_responded': 'boolean',
    'first_responded_date': 'date',
    'is_deleted': 'boolean',
    'created_date': 'timestamp',
} %}

with

source as (
    {{ select_source('salesforce', 'campaign_member', columns) }}
),

renamed as (
    select
        id as campaign_member_id,
        campaign_id,
        lead_id,
        contact_id,
        status as member_status,
        coalesce(has_responded, false) as has_responded,
        first_responded_date,
        created_date as created_at,
        _loaded_at

    from source
    where not coalesce(is_deleted, false)
)

select * from renamed
