{{ config(enabled=source_enabled('salesforce')) }}

{%- set columns = {
    'id': 'id',
    'name': 'string',
    'first_name': 'string',
    'last_name': 'string',
    'email': 'string',
    'is_active': 'boolean',
    'manager_id': 'id',
    'user_role_id': 'id',
    'title': 'string',
    'region_c': 'string',
    'segment_c': 'string',
    'hire_date_c': 'date',
    'termination_date_c': 'date',
    'created_date': 'timestamp',
    'last_modified_date': 'timestamp',
    'system_modstamp': 'timestamp',
} %}

with

source as (
    {{ select_source('salesforce', 'user', columns, required=true) }}
),

renamed as (
    select
        -- ids
        id as user_id,
        manager_id,
        user_role_id,

        -- text
        coalesce(name, {{ dbt.concat(["first_name", "' '", "last_name"]) }}) as user_name,
        lower(email) as email,
        title,
        region_c as region,
        segment_c as segment,

        -- booleans
        coalesce(is_active, true) as is_active,

        -- dates
        coalesce(hire_date_c, cast(created_date as date)) as hire_date,
        termination_date_c as termination_date,
        created_date as created_at,
        coalesce(system_modstamp, last_modified_date) as modified_at,
        _loaded_at

    from source
)

select * from renamed
