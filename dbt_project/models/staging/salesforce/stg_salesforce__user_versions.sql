{{ config(enabled=source_enabled('salesforce')) }}

{#- Every extracted version of every user: the hierarchy history. Loaders without version
    tables leave `user__versions` out; the model is then empty and the current users stand in. -#}

{%- set columns = {
    'id': 'id',
    'is_active': 'boolean',
    'manager_id': 'id',
    'user_role_id': 'id',
    'region_c': 'string',
    'segment_c': 'string',
    'last_modified_date': 'timestamp',
    'system_modstamp': 'timestamp',
} %}

with

source as (
    {{ select_source('salesforce', 'user__versions', columns) }}
),

renamed as (
    select
        id as user_id,
        manager_id,
        user_role_id,
        region_c as region,
        segment_c as segment,
        coalesce(is_active, true) as is_active,
        coalesce(system_modstamp, last_modified_date) as modified_at,
        _loaded_at

    from source
)

select * from renamed
