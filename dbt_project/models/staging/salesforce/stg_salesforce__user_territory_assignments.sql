{{ config(enabled=source_enabled('salesforce')) }}

{#- Users assigned to territories (UserTerritory2Association). Salesforce deletes the row when a
    user leaves a territory: there is no history of past assignments. -#}

{%- set columns = {
    'id': 'id',
    'user_id': 'id',
    'territory_2_id': 'id',
    'is_active': 'boolean',
    'role_in_territory_2': 'string',
    'last_modified_date': 'timestamp',
} %}

with

source as (
    {{ select_source('salesforce', 'user_territory_2_association', columns) }}
),

renamed as (
    select
        id as assignment_id,
        user_id as rep_id,
        territory_2_id as territory_id,
        role_in_territory_2 as role_in_territory,
        coalesce(is_active, true) as is_active,
        last_modified_date as modified_at,
        _loaded_at

    from source
)

select * from renamed
