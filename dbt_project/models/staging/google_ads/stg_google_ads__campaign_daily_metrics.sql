{{ config(enabled=source_enabled('google_ads')) }}

{%- set columns = {
    'customer_id': 'id',
    'campaign_id': 'id',
    'campaign_name': 'string',
    'campaign_status': 'string',
    'date': 'date',
    'cost_micros': 'int',
    'clicks': 'int',
    'impressions': 'int',
    'conversions': 'float',
} %}

with

source as (
    {{ select_source('google_ads', 'campaign_daily_metrics', columns) }}
),

renamed as (
    select
        customer_id,
        campaign_id,
        campaign_name,
        campaign_status,
        -- dates are in the ad account's time zone
        date as date_day,
        -- cost in the ad account's currency (sales-metrics §9: costMicros / 1,000,000)
        cost_micros / 1000000.0 as cost,
        clicks,
        impressions,
        conversions,
        _loaded_at

    from source
)

select * from renamed
