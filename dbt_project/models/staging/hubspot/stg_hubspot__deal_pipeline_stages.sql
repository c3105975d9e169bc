{{ config(enabled=source_enabled('hubspot')) }}

{%- set columns = {
    'pipeline_id': 'id',
    'id': 'id',
    'label': 'string',
    'display_order': 'int',
    'is_closed': 'boolean',
    'probability': 'float',
    'archived': 'boolean',
} %}

with

source as (
    -- archived stages may still hold old deals: keep them
    {{ select_source('hubspot', 'deal_pipeline_stages', columns, drop_deleted=false) }}
),

renamed as (
    select
        pipeline_id,
        id as stage_id,
        label as stage_label,
        display_order,
        -- stage metadata: isClosed, and probability 1.0 = won, 0.0 = lost (sales-metrics §1)
        coalesce(is_closed, false) as is_closed,
        probability,
        coalesce(archived, false) as is_archived,
        _loaded_at

    from source
)

select * from renamed
