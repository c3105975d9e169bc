{#-
    One row per commission plan with its (up to three) tiers side by side: tier t covers
    attainment [tier_t_lower_attainment, tier_{t+1}_lower_attainment) at tier_t_rate, the last
    tier is open-ended; tier 1's rate is the plan's base rate. Decelerator and cap columns as in
    the commission_plans seed (docs/quota-and-commission.md).
-#}

-- depends_on: {{ ref('int_quota_seed_rows_validated') }}

with

plans as (
    select * from {{ ref('commission_plans') }}
),

tiers as (
    select * from {{ ref('commission_plan_tiers') }}
),

pivoted as (
    select
        {%- for tier in [1, 2, 3] %}
        max(case when tier = {{ tier }} then lower_attainment end)
            as tier_{{ tier }}_lower_attainment,
        max(case when tier = {{ tier }} then rate end) as tier_{{ tier }}_rate,
        {%- endfor %}
        plan_id
    from tiers
    group by plan_id
),

final as (
    select
        plans.plan_id,
        plans.plan_name,
        plans.attainment_basis,
        pivoted.tier_1_rate as base_rate,
        pivoted.tier_1_lower_attainment,
        pivoted.tier_1_rate,
        pivoted.tier_2_lower_attainment,
        pivoted.tier_2_rate,
        pivoted.tier_3_lower_attainment,
        pivoted.tier_3_rate,
        plans.decelerator_below_attainment,
        plans.decelerator_rate_multiplier,
        plans.decelerator_is_retroactive,
        coalesce(plans.cap_type, 'none') as cap_type,
        plans.cap_value
    from plans
    inner join pivoted
        on plans.plan_id = pivoted.plan_id
)

select * from final
