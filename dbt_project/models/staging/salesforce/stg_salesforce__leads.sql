{{ config(enabled=source_enabled('salesforce')) }}

{%- set columns = {
    'id': 'id',
    'name': 'string',
    'first_name': 'string',
    'last_name': 'string',
    'company': 'string',
    'email': 'string',
    'status': 'string',
    'lead_source': 'string',
    'owner_id': 'id',
    'is_converted': 'boolean',
    'converted_date': 'date',
    'converted_account_id': 'id',
    'converted_contact_id': 'id',
    'converted_opportunity_id': 'id',
    'campaign_source_c': 'id',
    'mql_date_c': 'timestamp',
    'sql_date_c': 'timestamp',
    'first_response_at_c': 'timestamp',
    'is_deleted': 'boolean',
    'created_date': 'timestamp',
} %}

with

source as (
    {{ select_source('salesforce', 'lead', columns) }}
),

renamed as (
    select
        -- ids
        id as lead_id,
        owner_id as owner_rep_id,
        converted_account_id,
        converted_contact_id,
        converted_opportunity_id,
        campaign_source_c as campaign_id,

        -- text
        coalesce(name, {{ dbt.concat(["first_name", "' '", "last_name"]) }}) as lead_name,
        company,
        lower(trim(email)) as email,
        status as lead_status,
        lead_source,

        -- booleans
        coalesce(is_converted, false) as is_converted,

        -- dates
        created_date as created_at,
        mql_date_c as mql_at,
        sql_date_c as sql_at,
        first_response_at_c as first_response_at,
        converted_date,
        _loaded_at

    from source
    where not coalesce(is_deleted, false)
)

select * from renamed
