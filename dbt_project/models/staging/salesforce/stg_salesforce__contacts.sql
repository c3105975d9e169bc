{{ config(enabled=source_enabled('salesforce')) }}

{%- set columns = {
    'id': 'id',
    'account_id': 'id',
    'first_name': 'string',
    'last_name': 'string',
    'name': 'string',
    'email': 'string',
    'title': 'string',
    'lead_source': 'string',
    'owner_id': 'id',
    'is_deleted': 'boolean',
    'created_date': 'timestamp',
} %}

with

source as (
    {{ select_source('salesforce', 'contact', columns) }}
),

renamed as (
    select
        -- ids
        id as contact_id,
        account_id,
        owner_id as owner_rep_id,

        -- text
        coalesce(name, {{ dbt.concat(["first_name", "' '", "last_name"]) }}) as contact_name,
        lower(trim(email)) as email,
        title,
        lead_source,

        -- dates
        created_date as created_at,
        _loaded_at

    from source
    -- merged-away contacts are deleted in Salesforce, so this also drops them
    where not coalesce(is_deleted, false)
)

select * from renamed
