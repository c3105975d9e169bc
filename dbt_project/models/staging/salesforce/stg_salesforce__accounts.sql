{{ config(enabled=source_enabled('salesforce')) }}

{%- set columns = {
    'id': 'id',
    'name': 'string',
    'type': 'string',
    'industry': 'string',
    'annual_revenue': 'float',
    'number_of_employees': 'int',
    'owner_id': 'id',
    'parent_id': 'id',
    'billing_country': 'string',
    'segment_c': 'string',
    'region_c': 'string',
    'currency_iso_code': 'string',
    'is_deleted': 'boolean',
    'created_date': 'timestamp',
} %}

with

source as (
    {{ select_source('salesforce', 'account', columns, required=true) }}
),

renamed as (
    select
        -- ids
        id as account_id,
        owner_id as owner_rep_id,
        parent_id as parent_account_id,

        -- text
        name as account_name,
        type as account_type,
        industry,
        billing_country as country,
        segment_c as segment,
        region_c as region,
        upper(coalesce(currency_iso_code, '{{ var("corporate_currency") }}')) as currency_code,

        -- numbers
        annual_revenue,
        number_of_employees as employee_count,

        -- dates
        created_date as created_at,
        _loaded_at

    from source
    where not coalesce(is_deleted, false)
)

select * from renamed
