{{ config(enabled=source_enabled('hubspot')) }}

{#- Emails and the deals they were logged on. -#}

{%- set columns = {
    'from_id': 'id',
    'to_id': 'id',
    'association_type_id': 'int',
    'association_category': 'string',
} %}

with

source as (
    {{ select_source('hubspot', 'emails_deals_associations', columns) }}
),

renamed as (
    select
        from_id as email_id,
        to_id as deal_id,
        association_type_id,
        association_category,
        _loaded_at

    from source
)

select * from renamed
