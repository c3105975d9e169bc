{{ config(materialized='table') }}

{#-
    Every conversion (lead or opportunity created) × touch × attribution model with its weight
    (sales-metrics §8; formulas in macros/attribution/attribution.sql): first_touch, last_touch,
    linear, u_shaped (40/40/20), w_shaped (30/30/30 + 10) and time_decay (half-life var
    `attribution_half_life_days`, measured to the conversion). The weights of one conversion
    and model sum to 1. A conversion without touches is never dropped: it gets one row per
    model in the explicit `no_touch` bucket (campaign_id and touch_type `no_touch`, weight 1).
-#}

with

conversions as (
    select * from {{ ref('int_conversions_unioned') }}
),

touches as (
    select * from {{ ref('int_conversion_touches_matched') }}
),

weighted as (
    {%- for model in attribution_models() %}
    select
        conversion_type,
        conversion_id,
        touch_id,
        touch_type,
        campaign_id,
        touched_at,
        touch_rank,
        touch_count,
        is_first_touch,
        is_lead_creation_touch,
        is_conversion_touch,
        days_before_conversion,
        '{{ model }}' as attribution_model,
        {{ attribution_weight(model) }} as weight
    from touches
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

models as (
    {%- for model in attribution_models() %}
    select '{{ model }}' as attribution_model
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

untouched as (
    select
        conversions.conversion_type,
        conversions.conversion_id,
        cast(null as {{ dbt.type_string() }}) as touch_id,
        'no_touch' as touch_type,
        'no_touch' as campaign_id,
        cast(null as {{ dbt.type_timestamp() }}) as touched_at,
        cast(null as {{ dbt.type_bigint() }}) as touch_rank,
        cast(0 as {{ dbt.type_bigint() }}) as touch_count,
        cast(null as {{ dbt.type_boolean() }}) as is_first_touch,
        cast(null as {{ dbt.type_boolean() }}) as is_lead_creation_touch,
        cast(null as {{ dbt.type_boolean() }}) as is_conversion_touch,
        cast(null as {{ type_double() }}) as days_before_conversion,
        models.attribution_model,
        cast(1 as {{ type_double() }}) as weight
    from conversions
    cross join models
    where not exists (
            select 1
            from touches
            where touches.conversion_type = conversions.conversion_type
                and touches.conversion_id = conversions.conversion_id
        )
),

final as (
    select * from weighted
    union all
    select * from untouched
)

select * from final
