{{ config(enabled=source_enabled('hubspot')) }}

{#- Deals and their companies; type 5 is the primary company. -#}

{%- set columns = {
    'from_id': 'id',
    'to_id': 'id',
    'association_type_id': 'int',
    'association_category': 'string',
} %}

with

source as (
    {{ select_source('hubspot', 'deals_companies_associations', columns) }}
),

renamed as (
    select
        from_id as deal_id,
        to_id as company_id,
        association_type_id,
        association_category,
        _loaded_at

    from source
)

select * from renamed
