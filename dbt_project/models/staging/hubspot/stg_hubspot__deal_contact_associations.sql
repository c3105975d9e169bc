{{ config(enabled=source_enabled('hubspot')) }}

{#- Deals and their contacts. -#}

{%- set columns = {
    'from_id': 'id',
    'to_id': 'id',
    'association_type_id': 'int',
    'association_category': 'string',
} %}

with

source as (
    {{ select_source('hubspot', 'deals_contacts_associations', columns) }}
),

renamed as (
    select
        from_id as deal_id,
        to_id as contact_id,
        association_type_id,
        association_category,
        _loaded_at

    from source
)

select * from renamed
