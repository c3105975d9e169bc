{#- For every model of attribution_models(), attributed pipeline, bookings and opportunities
    summed over campaigns (the no_touch bucket included) equal total pipeline created, total
    bookings and the number of opportunities; so do mart_campaign_performance's pipeline,
    bookings, opportunities and leads under the default model, and its spend equals all Google
    Ads spend to the as-of date. Each measure is compared on its own, so errors in two measures
    cannot offset each other. A model missing from fct_attribution_touches attributes nothing
    and fails whenever there is pipeline; a model the macro does not list fails outright. -#}

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

expected_models as (
    {%- for model in attribution_models() %}
    select '{{ model }}' as model  -- noqa: RF04
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

by_model as (
    select
        model,
        sum(attributed_pipeline_amount) as pipeline_amount,
        sum(attributed_bookings_amount) as bookings_amount,
        sum(weight) as opportunities
    from {{ ref('fct_attribution_touches') }}
    group by model
),

model_totals as (
    select
        coalesce(expected_models.model, by_model.model) as model,  -- noqa: RF04
        expected_models.model is not null as is_listed,
        coalesce(by_model.pipeline_amount, 0) as pipeline_amount,
        coalesce(by_model.bookings_amount, 0) as bookings_amount,
        coalesce(by_model.opportunities, 0) as opportunities
    from expected_models
    full outer join by_model
        on expected_models.model = by_model.model
),

mart as (
    select
        coalesce(sum(pipeline_amount), 0) as pipeline_amount,
        coalesce(sum(bookings_amount), 0) as bookings_amount,
        coalesce(sum(opportunities), 0) as opportunities,
        coalesce(sum(leads), 0) as leads,
        coalesce(sum(spend_amount), 0) as spend_amount
    from {{ ref('mart_campaign_performance') }}
),

{#- measure, where its expected total lives, and the tolerance: cents for amounts, float noise
    for counts (attributed counts are sums of fractional weights). Summing a million fractional
    shares in double precision is exact only to ~1e-13 of the total (medium org: 0.0075 on 42.4
    billion of pipeline), so the tolerance grows with the total: 1e-11 of it, 0.42 on 42 billion.
-#}
{%- set relative_tolerance = 1e-11 %}
{%- set model_measures = [
    ('pipeline_amount', 'opportunities.pipeline_amount', 0.005),
    ('bookings_amount', 'opportunities.bookings_amount', 0.005),
    ('opportunities', 'opportunities.opportunities', 0.000001),
] %}
{%- set mart_measures = model_measures + [
    ('leads', 'leads.leads', 0.000001),
    ('spend_amount', 'ads_spend.spend_amount', 0.005),
] %}

checks as (
    {%- for measure, expected, tolerance in model_measures %}
    select
        {{ dbt.concat(["'fct_attribution_touches '", 'model_totals.model']) }} as check_name,
        '{{ measure }}' as measure,
        model_totals.{{ measure }} as actual_value,
        case when model_totals.is_listed then {{ expected }} end as expected_value,
        greatest({{ tolerance }}, {{ relative_tolerance }} * abs({{ expected }})) as tolerance
    from model_totals
    cross join opportunities
    union all
    {%- endfor %}
    {%- for measure, expected, tolerance in mart_measures %}
    select
        'mart_campaign_performance' as check_name,
        '{{ measure }}' as measure,
        mart.{{ measure }} as actual_value,
        {{ expected }} as expected_value,
        greatest({{ tolerance }}, {{ relative_tolerance }} * abs({{ expected }})) as tolerance
    from mart
    cross join opportunities
    cross join leads
    cross join ads_spend
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)

select *
from checks
where expected_value is null
    or abs(actual_value - coalesce(expected_value, 0)) >= tolerance
