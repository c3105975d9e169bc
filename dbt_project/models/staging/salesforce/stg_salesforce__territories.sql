{{ config(enabled=source_enabled('salesforce')) }}

{%- set columns = {
    'id': 'id',
    'name': 'string',
    'developer_name': 'string',
    'parent_territory_2_id': 'id',
    'region_c': 'string',
    'segment_c': 'string',
} %}

with

source as (
    {{ select_source('salesforce', 'territory_2', columns) }}
),

renamed as (
    select
        id as territory_id,
        parent_territory_2_id as parent_territory_id,
        name as territory_name,
        developer_name as territory_developer_name,
        region_c as region,
        segment_c as segment,
        _loaded_at

    from source
)

select * from renamed
