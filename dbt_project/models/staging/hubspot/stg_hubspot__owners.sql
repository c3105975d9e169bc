{{ config(enabled=source_enabled('hubspot')) }}

{%- set columns = {
    'id': 'id',
    'email': 'string',
    'first_name': 'string',
    'last_name': 'string',
    'user_id': 'id',
    'archived': 'boolean',
    'primary_team_id': 'id',
    'primary_team_name': 'string',
    'created_at': 'timestamp',
    'updated_at': 'timestamp',
} %}

with

source as (
    -- archived owners are deactivated users who still own records: keep them
    {{ select_source('hubspot', 'owners', columns, required=true, drop_deleted=false) }}
),

renamed as (
    select
        id as owner_id,
        user_id,
        primary_team_id as team_id,
        {{ dbt.concat(["coalesce(first_name, '')", "' '", "coalesce(last_name, '')"]) }}
            as owner_name,
        lower(email) as email,
        primary_team_name as team_name,
        not coalesce(archived, false) as is_active,
        created_at,
        updated_at,
        _loaded_at

    from source
)

select * from renamed
