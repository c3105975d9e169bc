{{ config(enabled=source_enabled('salesforce')) }}

{%- set columns = {
    'id': 'id',
    'object_id': 'id',
    'territory_2_id': 'id',
    'association_cause': 'string',
    'is_deleted': 'boolean',
    'last_modified_date': 'timestamp',
} %}

with

source as (
    {{ select_source('salesforce', 'object_territory_2_association', columns) }}
),

renamed as (
    select
        id as assignment_id,
        object_id as account_id,
        territory_2_id as territory_id,
        association_cause,
        last_modified_date as modified_at,
        _loaded_at

    from source
    where not coalesce(is_deleted, false)
        -- ObjectId is polymorphic; accounts have key prefix 001
        and {{ left('object_id', 3) }} = '001'
)

select * from renamed
