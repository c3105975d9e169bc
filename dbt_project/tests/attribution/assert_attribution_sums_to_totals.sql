{#- For every attribution model, attributed pipeline and bookings summed over campaigns (the
    no_touch bucket included) equal total pipeline created and total bookings, to the cent; so
    do mart_campaign_performance's pipeline, bookings, opportunities and leads under the default
    model, and its spend equals all Google Ads spend to the as-of date. -#}

with

opportunities as (
    select
        sum(coalesce(opportunity_amount, 0)) as pipeline_amount,
        sum(
            case
                when is_won and close_date <= {{ as_of_date() }}
                    then coalesce(opportunity_amount, 0)
                else 0
            end
        ) as bookings_amount,
        count(*) as opportunities
    from {{ ref('fct_opportunities') }}
    where created_date <= {{ as_of_date() }}
),

by_model as (
    select
        model,
        sum(attributed_pipeline_amount) as pipeline_amount,
        sum(attributed_bookings_amount) as bookings_amount
    from {{ ref('fct_attribution_touches') }}
    group by model
),

mart as (
    select
        sum(pipeline_amount) as pipeline_amount,
        sum(bookings_amount) as bookings_amount,
        sum(opportunities) as opportunities,
        sum(leads) as leads,
        sum(spend_amount) as spend_amount
    from {{ ref('mart_campaign_performance') }}
),

leads as (
    select count(*) as leads
    from {{ ref('fct_leads') }}
    where created_date <= {{ as_of_date() }}
),

{% if source_enabled('google_ads') -%}
ads_spend as (
    select
        coalesce(sum(
            {{ converted_amount('metrics.cost', "'" ~ var('google_ads_currency', 'USD') ~ "'") }}
        ), 0) as spend_amount
    from {{ ref('stg_google_ads__campaign_daily_metrics') }} as metrics
    {{ convert_currency_joins("'" ~ var('google_ads_currency', 'USD') ~ "'", 'metrics.date_day') }}
    where metrics.date_day <= {{ as_of_date() }}
),
{%- else -%}
ads_spend as (
    select 0 as spend_amount
),
{%- endif %}

checks as (
    select
        {{ dbt.concat(["'fct_attribution_touches '", 'by_model.model']) }} as check_name,
        by_model.pipeline_amount as actual_pipeline,
        opportunities.pipeline_amount as expected_pipeline,
        by_model.bookings_amount as actual_bookings,
        opportunities.bookings_amount as expected_bookings,
        0 as actual_count,
        0 as expected_count
    from by_model
    cross join opportunities
    union all
    select
        'mart_campaign_performance' as check_name,
        coalesce(mart.pipeline_amount, 0) as actual_pipeline,
        opportunities.pipeline_amount as expected_pipeline,
        coalesce(mart.bookings_amount, 0) + coalesce(mart.spend_amount, 0) as actual_bookings,
        opportunities.bookings_amount + ads_spend.spend_amount as expected_bookings,
        coalesce(mart.opportunities, 0) + coalesce(mart.leads, 0) as actual_count,
        opportunities.opportunities + leads.leads as expected_count
    from mart
    cross join opportunities
    cross join leads
    cross join ads_spend
)

select *
from checks
where abs(coalesce(actual_pipeline, 0) - coalesce(expected_pipeline, 0)) >= 0.005
    or abs(coalesce(actual_bookings, 0) - coalesce(expected_bookings, 0)) >= 0.005
    or abs(actual_count - expected_count) > 1e-6
