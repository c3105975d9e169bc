{{ config(enabled=source_enabled('hubspot')) }}

{%- set columns = {
    'id': 'id',
    'name': 'string',
    'domain': 'string',
    'industry': 'string',
    'annualrevenue': 'float',
    'numberofemployees': 'float',
    'hubspot_owner_id': 'id',
    'lifecyclestage': 'string',
    'country': 'string',
    'createdate': 'timestamp',
    'created_at': 'timestamp',
    'archived': 'boolean',
} %}

with

source as (
    {{ select_source('hubspot', 'companies', columns, required=true) }}
),

renamed as (
    select
        id as company_id,
        hubspot_owner_id as owner_rep_id,
        name as company_name,
        domain,
        industry,
        lifecyclestage as lifecycle_stage,
        country,
        annualrevenue as annual_revenue,
        cast(numberofemployees as {{ dbt.type_bigint() }}) as employee_count,
        coalesce(createdate, created_at) as created_at,
        _loaded_at

    from source
    where not coalesce(archived, false)
)

select * from renamed
