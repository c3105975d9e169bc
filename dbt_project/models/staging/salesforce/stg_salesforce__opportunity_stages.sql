{{ config(enabled=source_enabled('salesforce')) }}

{%- set columns = {
    'id': 'id',
    'api_name': 'string',
    'master_label': 'string',
    'is_active': 'boolean',
    'sort_order': 'int',
    'is_closed': 'boolean',
    'is_won': 'boolean',
    'default_probability': 'float',
    'forecast_category': 'string',
    'forecast_category_name': 'string',
} %}

with

source as (
    {{ select_source('salesforce', 'opportunity_stage', columns) }}
),

renamed as (
    select
        id as opportunity_stage_id,
        -- opportunities and their history store the API name (OpportunityStage.ApiName)
        coalesce(api_name, master_label) as stage_name,
        coalesce(master_label, api_name) as stage_label,
        sort_order,
        coalesce(is_active, true) as is_active,
        is_closed,
        is_won,
        default_probability / 100.0 as default_probability,
        {{ normalize_forecast_category('coalesce(forecast_category, forecast_category_name)') }}
            as default_forecast_category,
        _loaded_at

    from source
)

select * from renamed
