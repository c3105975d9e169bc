{#-
    Campaign performance by fiscal month (sales-metrics §9), one attribution model at a time
    (var `default_attribution_model`):

    * spend_amount, clicks, impressions: Google Ads daily metrics on their (ad-account) dates,
      spend converted from var `google_ads_currency` to the corporate currency at the rate of
      the day, on the CRM campaign the `campaign_mapping` seed maps the ads campaign to
      (int_ad_campaigns_mapped); spend of an unmatched ads campaign stays on a row of its own
      (is_unmatched_spend) so it is never lost;
    * leads (by creation month) and mqls (by the month a lead reached MQL or a later stage, as
      in mart_lead_funnel): leads weighted by their touches at or before their creation;
    * opportunities and pipeline_amount (by creation month), won_count and bookings_amount (by
      close month): fct_attribution_touches under the model;
    * conversions without touches land on the `no_touch` row, so every column sums over
      campaigns to the company total.

    Attributed counts are fractional (a lead with four touches gives each campaign a share).
    cost_per_lead_amount = spend ÷ leads, cost_per_opportunity_amount = spend ÷ opportunities,
    roas_ratio = bookings ÷ spend; NULL when the denominator is 0.
-#}

{%- set model = default_attribution_model() %}

with

months as (
    select * from {{ ref('int_fiscal_months_spined') }}
),

ad_campaigns as (
    select * from {{ ref('int_ad_campaigns_mapped') }}
),

{% if source_enabled('google_ads') %}
ads_days as (
    select
        metrics.campaign_id as ads_campaign_id,
        metrics.date_day,
        metrics.cost,
        metrics.clicks,
        metrics.impressions,
        '{{ var("google_ads_currency", "USD") }}' as currency_code
    from {{ ref('stg_google_ads__campaign_daily_metrics') }} as metrics
    where metrics.date_day <= {{ as_of_date() }}
),

spend as (
    select
        ad_campaigns.campaign_id,
        ads_days.date_day as activity_date,
        {{ converted_amount('ads_days.cost', 'ads_days.currency_code') }} as spend_amount,
        ads_days.clicks,
        ads_days.impressions,
        cast(0 as {{ type_double() }}) as leads,
        cast(0 as {{ type_double() }}) as mqls,
        cast(0 as {{ type_double() }}) as opportunities,
        cast(0 as {{ type_double() }}) as pipeline_amount,
        cast(0 as {{ type_double() }}) as won_count,
        cast(0 as {{ type_double() }}) as bookings_amount
    from ads_days
    inner join ad_campaigns
        on ads_days.ads_campaign_id = ad_campaigns.ads_campaign_id
    {{ convert_currency_joins('ads_days.currency_code', 'ads_days.date_day') }}
),
{% endif %}

lead_weights as (
    select
        weights.campaign_id,
        weights.weight,
        leads.created_date,
        least(
            coalesce(leads.mql_date, cast('9999-12-31' as date)),
            coalesce(leads.sql_date, cast('9999-12-31' as date)),
            coalesce(leads.converted_date, cast('9999-12-31' as date))
        ) as mql_reached_date
    from {{ ref('int_conversion_touches_weighted') }} as weights
    inner join {{ ref('fct_leads') }} as leads
        on weights.conversion_id = leads.lead_id
    where weights.conversion_type = 'lead'
        and weights.attribution_model = '{{ model }}'
),

lead_activity as (
    select
        campaign_id,
        created_date as activity_date,
        weight as leads,
        cast(0 as {{ type_double() }}) as mqls
    from lead_weights
    union all
    select
        campaign_id,
        mql_reached_date as activity_date,
        cast(0 as {{ type_double() }}) as leads,
        weight as mqls
    from lead_weights
    where mql_reached_date <= {{ as_of_date() }}
),

touches as (
    select * from {{ ref('fct_attribution_touches') }}
    where model = '{{ model }}'
),

activity as (
    {% if source_enabled('google_ads') -%}
    select * from spend
    union all
    {% endif -%}
    select
        campaign_id,
        activity_date,
        cast(0 as {{ type_double() }}) as spend_amount,
        0 as clicks,
        0 as impressions,
        leads,
        mqls,
        cast(0 as {{ type_double() }}) as opportunities,
        cast(0 as {{ type_double() }}) as pipeline_amount,
        cast(0 as {{ type_double() }}) as won_count,
        cast(0 as {{ type_double() }}) as bookings_amount
    from lead_activity
    union all
    select
        campaign_id,
        opportunity_created_date as activity_date,
        cast(0 as {{ type_double() }}) as spend_amount,
        0 as clicks,
        0 as impressions,
        cast(0 as {{ type_double() }}) as leads,
        cast(0 as {{ type_double() }}) as mqls,
        weight as opportunities,
        attributed_pipeline_amount as pipeline_amount,
        cast(0 as {{ type_double() }}) as won_count,
        cast(0 as {{ type_double() }}) as bookings_amount
    from touches
    union all
    select
        campaign_id,
        close_date as activity_date,
        cast(0 as {{ type_double() }}) as spend_amount,
        0 as clicks,
        0 as impressions,
        cast(0 as {{ type_double() }}) as leads,
        cast(0 as {{ type_double() }}) as mqls,
        cast(0 as {{ type_double() }}) as opportunities,
        cast(0 as {{ type_double() }}) as pipeline_amount,
        attributed_won_count as won_count,
        attributed_bookings_amount as bookings_amount
    from touches
    where attributed_won_count > 0
),

aggregated as (
    select
        activity.campaign_id,
        months.fiscal_month,
        months.fiscal_quarter,
        months.period_start,
        months.period_end,
        sum(activity.spend_amount) as spend_amount,
        cast(sum(activity.clicks) as {{ dbt.type_bigint() }}) as clicks,
        cast(sum(activity.impressions) as {{ dbt.type_bigint() }}) as impressions,
        sum(activity.leads) as leads,
        sum(activity.mqls) as mqls,
        sum(activity.opportunities) as opportunities,
        sum(activity.pipeline_amount) as pipeline_amount,
        sum(activity.won_count) as won_count,
        sum(activity.bookings_amount) as bookings_amount
    from activity
    inner join months
        on activity.activity_date between months.period_start and months.period_end
    group by 1, 2, 3, 4, 5
),

campaigns as (
    -- CRM campaigns, ads campaigns whose spend matched none, and the two buckets
    select
        campaign_id,
        campaign_name,
        channel,
        source_system
    from {{ ref('int_campaigns_unioned') }}
    where source_system != 'google_ads'
    union all
    select
        ads_campaign_id as campaign_id,
        ads_campaign_name as campaign_name,
        'Paid Search' as channel,
        'google_ads' as source_system
    from ad_campaigns
    where not is_matched
    union all
    select
        'no_touch' as campaign_id,
        'No touch' as campaign_name,
        'No touch' as channel,
        cast(null as {{ dbt.type_string() }}) as source_system
    union all
    select
        'unknown_campaign' as campaign_id,
        'Unknown campaign' as campaign_name,
        'Unknown' as channel,
        cast(null as {{ dbt.type_string() }}) as source_system
),

final as (
    select
        aggregated.campaign_id,
        coalesce(
            campaigns.campaign_name,
            {{ dbt.concat(["'Campaign '", 'aggregated.campaign_id']) }}
        ) as campaign_name,
        campaigns.channel,
        campaigns.source_system as campaign_source_system,
        coalesce(campaigns.source_system = 'google_ads', false) as is_unmatched_spend,
        aggregated.fiscal_month,
        aggregated.fiscal_quarter,
        aggregated.period_start,
        aggregated.period_end,
        '{{ model }}' as attribution_model,
        aggregated.spend_amount,
        aggregated.clicks,
        aggregated.impressions,
        aggregated.leads,
        aggregated.mqls,
        aggregated.opportunities,
        aggregated.pipeline_amount,
        aggregated.won_count,
        aggregated.bookings_amount,
        {{ safe_divide('aggregated.spend_amount', 'aggregated.leads') }} as cost_per_lead_amount,
        {{ safe_divide('aggregated.spend_amount', 'aggregated.opportunities') }}
            as cost_per_opportunity_amount,
        {{ safe_divide('aggregated.bookings_amount', 'aggregated.spend_amount') }} as roas_ratio,
        {{ as_of_date() }} as as_of_date
    from aggregated
    left join campaigns
        on aggregated.campaign_id = campaigns.campaign_id
)

select * from final
