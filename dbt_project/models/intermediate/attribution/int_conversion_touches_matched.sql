{{ config(materialized='table') }}

{#-
    Each conversion's touch path (sales-metrics §8): the touches of the people linked to it
    (int_conversion_people_linked) at or before the conversion, and no earlier than var
    `attribution_lookback_days` before it (null: no limit), ranked by time.

    Touches are the types in var `attribution_touch_types`: Salesforce campaign responses
    (`campaign_member`), HubSpot marketing email clicks (`email_click`; opens are left out by
    default, as privacy proxies fire them without a person), and `ad_click`: a campaign response
    on a CRM campaign that int_ad_campaigns_mapped links to a Google Ads campaign - the only
    trace of an ad click per person, since Google Ads reports clicks per campaign and day.

    Positions: FT = rank 1; LC = the last touch at or before the person was created (the
    conversion's person_created_at), the first touch when none was; the last touch is the
    conversion touch (OC for an opportunity).
-#}

{%- set touch_types = var(
    'attribution_touch_types', ['campaign_member', 'email_click', 'ad_click']
) -%}
{%- set lookback_days = var('attribution_lookback_days', none) %}

with

ad_campaigns as (
    select distinct
        campaign_id,
        campaign_source_system
    from {{ ref('int_ad_campaigns_mapped') }}
    where is_matched
),

touches as (
    select
        touches.touch_id,
        case
            when
                touches.touch_type = 'campaign_member'
                and ad_campaigns.campaign_id is not null
                then 'ad_click'
            else touches.touch_type
        end as touch_type,
        coalesce(touches.campaign_id, 'unknown_campaign') as campaign_id,
        touches.touched_at,
        coalesce(touches.lead_id, touches.contact_id) as person_id,
        touches.source_system
    from {{ ref('int_touches_unioned') }} as touches
    left join ad_campaigns
        on touches.campaign_id = ad_campaigns.campaign_id
            and touches.source_system = ad_campaigns.campaign_source_system
    where touches.touched_at is not null
),

conversions as (
    select * from {{ ref('int_conversions_unioned') }}
),

matched as (
    select distinct
        conversions.conversion_type,
        conversions.conversion_id,
        conversions.converted_at,
        conversions.person_created_at,
        touches.touch_id,
        touches.touch_type,
        touches.campaign_id,
        touches.touched_at,
        touches.source_system
    from conversions
    inner join {{ ref('int_conversion_people_linked') }} as people
        on conversions.conversion_type = people.conversion_type
            and conversions.conversion_id = people.conversion_id
            and conversions.source_system = people.source_system
    inner join touches
        on people.person_id = touches.person_id
            and people.source_system = touches.source_system
    where touches.touched_at <= conversions.converted_at
        and touches.touch_type in (
            {%- for touch_type in touch_types %}
            '{{ touch_type }}'{% if not loop.last %},{% endif %}
            {%- endfor %}
        )
        {%- if lookback_days is not none %}
        and touches.touched_at
        >= {{ dbt.dateadd('day', -(lookback_days | int), 'conversions.converted_at') }}
        {%- endif %}
),

ranked as (
    select
        *,
        row_number() over (
            partition by conversion_type, conversion_id
            order by touched_at, touch_id
        ) as touch_rank,
        count(*) over (partition by conversion_type, conversion_id) as touch_count
    from matched
),

lead_creation as (
    select
        conversion_type,
        conversion_id,
        coalesce(
            max(case when touched_at <= person_created_at then touch_rank end), 1
        ) as lead_creation_rank
    from ranked
    group by conversion_type, conversion_id
),

final as (
    select
        ranked.conversion_type,
        ranked.conversion_id,
        ranked.converted_at,
        ranked.touch_id,
        ranked.touch_type,
        ranked.campaign_id,
        ranked.touched_at,
        ranked.touch_rank,
        ranked.touch_count,
        lead_creation.lead_creation_rank,
        ranked.touch_rank = 1 as is_first_touch,
        ranked.touch_rank = lead_creation.lead_creation_rank as is_lead_creation_touch,
        ranked.touch_rank = ranked.touch_count as is_conversion_touch,
        cast(
            {{ seconds_between('ranked.touched_at', 'ranked.converted_at') }}
            as {{ type_double() }}
        ) / 86400 as days_before_conversion,
        ranked.source_system
    from ranked
    inner join lead_creation
        on ranked.conversion_type = lead_creation.conversion_type
            and ranked.conversion_id = lead_creation.conversion_id
)

select * from final
