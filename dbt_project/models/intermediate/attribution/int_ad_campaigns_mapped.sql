{#-
    Every Google Ads campaign and the CRM campaign its spend belongs to (sales-metrics §9: spend
    and attributed revenue on the same campaign). The `campaign_mapping` seed decides: its row
    for the ads campaign (by Google Ads campaign id when the row gives one, else by name, case
    and surrounding spaces ignored) names the CRM campaign by id or by name, or leaves it empty
    to keep the spend unmatched on purpose. An ads campaign the seed does not list takes the CRM
    campaign of the same name when var `campaign_mapping_match_names` is true (the default).
    Unmatched spend stays on the ads campaign itself (campaign_source_system google_ads).
-#}

with

{% if source_enabled('google_ads') %}
ads_days as (
    select
        campaign_id,
        campaign_name,
        row_number() over (partition by campaign_id order by date_day desc) as day_rank
    from {{ ref('stg_google_ads__campaign_daily_metrics') }}
),

ads as (
    -- named as on its latest day
    select
        campaign_id as ads_campaign_id,
        campaign_name as ads_campaign_name
    from ads_days
    where day_rank = 1
),
{% else %}
ads as (
    select
        cast(null as {{ dbt.type_string() }}) as ads_campaign_id,
        cast(null as {{ dbt.type_string() }}) as ads_campaign_name
    {{ empty_relation_filter() }}
),
{% endif %}

crm_campaigns as (
    select
        campaign_id,
        campaign_name,
        source_system
    from {{ ref('int_campaigns_unioned') }}
    where source_system != 'google_ads'
),

crm_names as (
    -- a name shared by several campaigns of one CRM resolves to the first by id
    select
        lower(trim(campaign_name)) as campaign_name_key,
        source_system,
        min(campaign_id) as campaign_id
    from crm_campaigns
    where campaign_name is not null
    group by lower(trim(campaign_name)), source_system
),

mapping as (
    select
        cast(google_ads_campaign_id as {{ dbt.type_string() }}) as google_ads_campaign_id,
        lower(trim(google_ads_campaign_name)) as google_ads_campaign_name_key,
        lower(trim(crm_source_system)) as crm_source_system,
        cast(crm_campaign_id as {{ dbt.type_string() }}) as crm_campaign_id,
        lower(trim(crm_campaign_name)) as crm_campaign_name_key
    from {{ ref('campaign_mapping') }}
),

seeded as (
    -- the seed row of each ads campaign: one given by id beats one given by name
    select
        ads.ads_campaign_id,
        mapping.crm_source_system,
        mapping.crm_campaign_id,
        mapping.crm_campaign_name_key,
        row_number() over (
            partition by ads.ads_campaign_id
            order by case when mapping.google_ads_campaign_id is null then 1 else 0 end
        ) as seed_rank
    from ads
    inner join mapping
        on ads.ads_campaign_id = mapping.google_ads_campaign_id
            or (
                mapping.google_ads_campaign_id is null
                and lower(trim(ads.ads_campaign_name)) = mapping.google_ads_campaign_name_key
            )
),

name_matches as (
    -- the name match without a seed row: Salesforce first when both CRMs have the name
    select
        campaign_name_key,
        campaign_id,
        source_system,
        row_number() over (
            partition by campaign_name_key
            order by case source_system when 'salesforce' then 0 else 1 end
        ) as name_rank
    from crm_names
),

resolved as (
    select
        ads.ads_campaign_id,
        ads.ads_campaign_name,
        seeded.ads_campaign_id is not null as is_in_seed,
        coalesce(
            seeded.crm_campaign_name_key is not null or seeded.crm_campaign_id is not null,
            false
        ) as seed_names_crm_campaign,
        case
            when seeded.ads_campaign_id is not null
                then coalesce(by_seed_id.campaign_id, by_seed_name.campaign_id)
            {%- if var('campaign_mapping_match_names', true) %}
            else by_name.campaign_id
            {%- endif %}
        end as crm_campaign_id,
        case
            when seeded.ads_campaign_id is not null
                then coalesce(by_seed_id.source_system, by_seed_name.source_system)
            {%- if var('campaign_mapping_match_names', true) %}
            else by_name.source_system
            {%- endif %}
        end as crm_source_system
    from ads
    left join seeded
        on ads.ads_campaign_id = seeded.ads_campaign_id
            and seeded.seed_rank = 1
    left join crm_campaigns as by_seed_id
        on seeded.crm_campaign_id = by_seed_id.campaign_id
            and seeded.crm_source_system = by_seed_id.source_system
    left join crm_names as by_seed_name
        on seeded.crm_campaign_id is null
            and seeded.crm_campaign_name_key = by_seed_name.campaign_name_key
            and seeded.crm_source_system = by_seed_name.source_system
    left join name_matches as by_name
        on lower(trim(ads.ads_campaign_name)) = by_name.campaign_name_key
            and by_name.name_rank = 1
),

final as (
    select
        ads_campaign_id,
        ads_campaign_name,
        coalesce(crm_campaign_id, ads_campaign_id) as campaign_id,
        coalesce(crm_source_system, 'google_ads') as campaign_source_system,
        crm_campaign_id is not null as is_matched,
        case
            when crm_campaign_id is not null and is_in_seed then 'seed'
            when crm_campaign_id is not null then 'name'
            when seed_names_crm_campaign then 'seed_not_found'
            else 'unmatched'
        end as match_method
    from resolved
)

select * from final
