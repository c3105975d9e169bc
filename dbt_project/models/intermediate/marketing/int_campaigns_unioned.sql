{#-
    Campaigns that touches and spend refer to: Salesforce campaigns, Google Ads campaigns
    (linked to the Salesforce campaign of the same name where there is one) and HubSpot
    marketing email campaigns.
-#}

with

{% if source_enabled('salesforce') %}
salesforce_campaigns as (
    select
        campaign_id,
        campaign_name,
        channel,
        campaign_type,
        campaign_status,
        start_date,
        end_date,
        budgeted_cost,
        actual_cost,
        cast(null as {{ dbt.type_string() }}) as crm_campaign_id,
        'salesforce' as source_system
    from {{ ref('stg_salesforce__campaigns') }}
),
{% endif %}

{% if source_enabled('google_ads') %}
ads_campaigns as (
    select
        campaign_id,
        max(campaign_name) as campaign_name,
        max(campaign_status) as campaign_status,
        min(date_day) as start_date,
        max(date_day) as end_date
    from {{ ref('stg_google_ads__campaign_daily_metrics') }}
    group by campaign_id
),

{% if source_enabled('salesforce') %}
crm_campaigns_by_name as (
    select
        lower(campaign_name) as campaign_name,
        min(campaign_id) as campaign_id
    from salesforce_campaigns
    group by lower(campaign_name)
),
{% endif %}

google_ads_campaigns as (
    select
        ads_campaigns.campaign_id,
        ads_campaigns.campaign_name,
        'Paid Search' as channel,
        'Advertisement' as campaign_type,
        ads_campaigns.campaign_status,
        ads_campaigns.start_date,
        ads_campaigns.end_date,
        cast(null as {{ type_double() }}) as budgeted_cost,
        cast(null as {{ type_double() }}) as actual_cost,
        {% if source_enabled('salesforce') -%}
        crm_campaigns.campaign_id
        {%- else -%}
        cast(null as {{ dbt.type_string() }})
        {%- endif %} as crm_campaign_id,
        'google_ads' as source_system
    from ads_campaigns
    {% if source_enabled('salesforce') -%}
    left join crm_campaigns_by_name as crm_campaigns
        on lower(ads_campaigns.campaign_name) = crm_campaigns.campaign_name
    {%- endif %}
),
{% endif %}

{% if source_enabled('hubspot') %}
hubspot_email_campaigns as (
    select
        email_campaign_id as campaign_id,
        cast(null as {{ dbt.type_string() }}) as campaign_name,
        'Email' as channel,
        'Marketing Email' as campaign_type,
        cast(null as {{ dbt.type_string() }}) as campaign_status,
        cast(min(occurred_at) as date) as start_date,
        cast(max(occurred_at) as date) as end_date,
        cast(null as {{ type_double() }}) as budgeted_cost,
        cast(null as {{ type_double() }}) as actual_cost,
        cast(null as {{ dbt.type_string() }}) as crm_campaign_id,
        'hubspot' as source_system
    from {{ ref('stg_hubspot__email_events') }}
    where email_campaign_id is not null
    group by email_campaign_id
),
{% endif %}

{%- set parts = [] -%}
{%- if source_enabled('salesforce') %}{% do parts.append('salesforce_campaigns') %}{% endif -%}
{%- if source_enabled('google_ads') %}{% do parts.append('google_ads_campaigns') %}{% endif -%}
{%- if source_enabled('hubspot') %}{% do parts.append('hubspot_email_campaigns') %}{% endif %}

unioned as (
    {%- for part in parts %}
    select * from {{ part }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)

select * from unioned
