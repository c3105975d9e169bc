{{ config(enabled=source_enabled('salesforce')) }}

{#- OpportunityHistory: each row is a snapshot of stage, amount, close date, probability and
    forecast category at the moment one of them changed. -#}

{%- set columns = {
    'id': 'id',
    'opportunity_id': 'id',
    'stage_name': 'string',
    'amount': 'float',
    'close_date': 'date',
    'probability': 'float',
    'forecast_category': 'string',
    'is_deleted': 'boolean',
    'created_date': 'timestamp',
} %}

with

source as (
    {{ select_source('salesforce', 'opportunity_history', columns) }}
),

renamed as (
    select
        id as opportunity_history_id,
        opportunity_id,
        stage_name,
        amount,
        close_date,
        probability / 100.0 as probability,
        {{ normalize_forecast_category('forecast_category') }} as forecast_category,
        created_date as changed_at,
        _loaded_at

    from source
    where not coalesce(is_deleted, false)
)

select * from renamed
