{#-
    Multi-touch attribution of every opportunity (sales-metrics §8): one row per opportunity ×
    touch × model - first_touch, last_touch, linear, u_shaped, w_shaped, time_decay - over the
    touches of the people linked to it at or before its creation (int_conversion_touches_*).
    The weights of one opportunity and model sum to 1; an opportunity without touches has one
    row per model in the `no_touch` bucket, so nothing is dropped.

    attributed_pipeline_amount = weight × the opportunity's amount (pipeline created, whatever
    its status now); attributed_bookings_amount = weight × the amount of a won opportunity
    closed by the as-of date, else 0. Amounts as fct_opportunities converts them (NULL = 0).
-#}

with

weights as (
    select * from {{ ref('int_conversion_touches_weighted') }}
    where conversion_type = 'opportunity'
),

opportunities as (
    select * from {{ ref('fct_opportunities') }}
),

final as (
    select
        -- ids
        weights.conversion_id as opportunity_id,
        weights.touch_id,
        weights.campaign_id,

        -- text
        weights.touch_type,
        weights.attribution_model as model,  -- noqa: RF04
        opportunities.opportunity_type,
        opportunities.status as opportunity_status,

        -- numbers
        weights.weight,
        weights.touch_rank,
        weights.touch_count,
        weights.days_before_conversion as days_before_creation,
        coalesce(opportunities.opportunity_amount, 0) * weights.weight
            as attributed_pipeline_amount,
        case
            when opportunities.is_won and opportunities.close_date <= {{ as_of_date() }}
                then coalesce(opportunities.opportunity_amount, 0) * weights.weight
            else 0
        end as attributed_bookings_amount,
        case
            when opportunities.is_won and opportunities.close_date <= {{ as_of_date() }}
                then weights.weight
            else 0
        end as attributed_won_count,

        -- booleans
        weights.is_first_touch,
        weights.is_lead_creation_touch,
        weights.is_conversion_touch as is_opportunity_creation_touch,

        -- dates
        weights.touched_at,
        opportunities.created_date as opportunity_created_date,
        opportunities.close_date,
        opportunities.source_system,
        {{ as_of_date() }} as as_of_date
    from weights
    inner join opportunities
        on weights.conversion_id = opportunities.opportunity_id
)

select * from final
