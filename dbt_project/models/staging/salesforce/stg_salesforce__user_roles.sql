{{ config(enabled=source_enabled('salesforce')) }}

{%- set columns = {
    'id': 'id',
    'name': 'string',
    'parent_role_id': 'id',
    'developer_name': 'string',
} %}

with

source as (
    {{ select_source('salesforce', 'user_role', columns) }}
),

renamed as (
    select
        id as user_role_id,
        parent_role_id,
        name as role_name,
        developer_name as role_developer_name,
        _loaded_at

    from source
)

select * from renamed
