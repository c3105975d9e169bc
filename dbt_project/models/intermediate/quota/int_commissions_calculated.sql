{{ config(materialized='table') }}

{#-
    Commission per rep and fiscal quarter as the warehouse knows it now (sales-metrics §6), before
    any period lock: int_commissions_frozen freezes it when the quarter locks and mart_commissions
    pays later changes as adjustments.

    Commissionable bookings: won deals credited to the owner at close, in the corporate currency
    at the close-date rate (int_quotas_ramped_monthly). The plan comes from the rep's sales role
    and commission_plan_assignments. Q is the ramp-adjusted quota of the quarter, or of the fiscal
    year for year_to_date plans, whose quarter pays F(YTD bookings at the quarter end) - F(YTD
    bookings at its start) against the annual quota (accelerators pay once the annual threshold
    is crossed).

    F(B) = C(B') - decelerator(B') - payout-cap excess, with B' = B capped at cap_value x Q for
    attainment caps, C the marginal tier sum (macros/quota/commission.sql), the decelerator a
    separate rule and a payout cap of cap_value x target incentive (target incentive = C(Q), the
    tier commission at 100 % attainment). Without a quota every booking earns the base rate.
-#}

{%- set lock_days = var('commission_lock_days', 15) | int %}

-- depends_on: {{ ref('int_quota_seed_rows_validated') }}

with

rep_months as (
    select * from {{ ref('int_quotas_ramped_monthly') }}
),

rep_quarters as (
    select
        rep_id,
        fiscal_year,
        fiscal_quarter,
        quarter_start,
        quarter_end,
        sum(ramp_adjusted_quota_amount) as quarter_quota_amount,
        sum(bookings_amount) as bookings_amount,
        sum(won_count) as won_count
    from rep_months
    group by rep_id, fiscal_year, fiscal_quarter, quarter_start, quarter_end
),

with_year as (
    select
        *,
        sum(quarter_quota_amount) over (partition by rep_id, fiscal_year) as year_quota_amount,
        sum(bookings_amount) over (
            partition by rep_id, fiscal_year
            order by quarter_start
            rows between unbounded preceding and current row
        ) as year_to_date_bookings_amount
    from rep_quarters
),

roles as (
    select * from {{ ref('int_sales_roles_assigned') }}
),

assignments as (
    select
        sales_role,
        plan_id,
        first_fiscal_quarter,
        coalesce(last_fiscal_quarter, 'FY9999-Q9') as last_fiscal_quarter
    from {{ ref('commission_plan_assignments') }}
),

inputs as (
    select
        with_year.rep_id,
        with_year.fiscal_year,
        with_year.fiscal_quarter,
        with_year.quarter_start,
        with_year.quarter_end,
        cast({{ dbt.dateadd('day', lock_days, 'with_year.quarter_end') }} as date) as lock_date,
        roles.sales_role,
        plan_definitions.plan_id,
        plan_definitions.attainment_basis,
        with_year.bookings_amount as commissionable_bookings_amount,
        cast(with_year.won_count as {{ dbt.type_bigint() }}) as won_count,
        case
            when plan_definitions.attainment_basis = 'year_to_date' then with_year.year_quota_amount
            else with_year.quarter_quota_amount
        end as quota_amount,
        case
            when plan_definitions.attainment_basis = 'year_to_date'
                then with_year.year_to_date_bookings_amount
            else with_year.bookings_amount
        end as bookings_to_date_amount,
        case
            when plan_definitions.attainment_basis = 'year_to_date'
                then with_year.year_to_date_bookings_amount - with_year.bookings_amount
            else 0
        end as bookings_before_amount,
        plan_definitions.base_rate,
        plan_definitions.tier_1_lower_attainment,
        plan_definitions.tier_1_rate,
        plan_definitions.tier_2_lower_attainment,
        plan_definitions.tier_2_rate,
        plan_definitions.tier_3_lower_attainment,
        plan_definitions.tier_3_rate,
        plan_definitions.decelerator_below_attainment,
        plan_definitions.decelerator_rate_multiplier,
        plan_definitions.decelerator_is_retroactive,
        plan_definitions.cap_type,
        plan_definitions.cap_value
    from with_year
    left join roles
        on with_year.rep_id = roles.rep_id
    left join assignments
        on roles.sales_role = assignments.sales_role
            and with_year.fiscal_quarter >= assignments.first_fiscal_quarter
            and with_year.fiscal_quarter <= assignments.last_fiscal_quarter
    left join {{ ref('int_commission_plans_pivoted') }} as plan_definitions
        on assignments.plan_id = plan_definitions.plan_id
    where with_year.quarter_start <= {{ as_of_date() }}
        and (plan_definitions.plan_id is not null or with_year.bookings_amount != 0)
),

capped as (
    select
        *,
        {{ commission_capped_bookings(
            'inputs.bookings_to_date_amount', 'inputs.quota_amount', 'inputs') }}  -- noqa: LT05
            as capped_to_date_amount,
        {{ commission_capped_bookings(
            'inputs.bookings_before_amount', 'inputs.quota_amount', 'inputs') }}  -- noqa: LT05
            as capped_before_amount
    from inputs
),

banded as (
    select
        *,
        {%- for tier in [1, 2, 3] %}
        {{ commission_band(
            'capped.capped_to_date_amount', 'capped.quota_amount', 'capped', tier) }}  -- noqa: LT05
            as band_{{ tier }}_to_date_amount,
        {{ commission_band(
            'capped.capped_before_amount', 'capped.quota_amount', 'capped', tier) }}  -- noqa: LT05
            as band_{{ tier }}_before_amount,
        {%- endfor %}
        {{ commission_decelerator(
            'capped.capped_to_date_amount', 'capped.quota_amount', 'capped') }}  -- noqa: LT05
            as decelerator_to_date_amount,
        {{ commission_decelerator(
            'capped.capped_before_amount', 'capped.quota_amount', 'capped') }}  -- noqa: LT05
            as decelerator_before_amount,
        case
            when coalesce(capped.quota_amount, 0) > 0
                then {{ commission_tiers_total(
                    'capped.quota_amount', 'capped.quota_amount', 'capped') }}  -- noqa: LT05
        end as target_incentive_amount
    from capped
),

earned as (
    select
        *,
        {%- for tier in [1, 2, 3] %}
        band_{{ tier }}_to_date_amount - band_{{ tier }}_before_amount
            as tier_{{ tier }}_bookings_amount,
        {%- endfor %}
        {%- for point in ['to_date', 'before'] %}
        (
            {%- for tier in [1, 2, 3] %}
            coalesce(tier_{{ tier }}_rate, 0) * band_{{ tier }}_{{ point }}_amount
            {%- if not loop.last %} +{% endif %}
            {%- endfor %}
        ) - decelerator_{{ point }}_amount as decelerated_{{ point }}_amount,
        {%- endfor %}
        case
            when cap_type = 'payout' and target_incentive_amount is not null
                then cap_value * target_incentive_amount
        end as payout_cap_amount
    from banded
),

capped_payout as (
    select
        *,
        case
            when payout_cap_amount is null then 0
            else greatest(decelerated_to_date_amount - payout_cap_amount, 0)
        end
        - case
            when payout_cap_amount is null then 0
            else greatest(decelerated_before_amount - payout_cap_amount, 0)
        end as cap_reduction_amount
    from earned
),

final as (
    select
        rep_id,
        fiscal_year,
        fiscal_quarter,
        quarter_start,
        quarter_end,
        lock_date,
        sales_role,
        plan_id,
        attainment_basis,
        quota_amount,
        commissionable_bookings_amount,
        won_count,
        bookings_to_date_amount,
        {{ safe_divide('bookings_to_date_amount', 'quota_amount') }} as attainment,
        base_rate,
        {%- for tier in [1, 2, 3] %}
        tier_{{ tier }}_rate,
        case when plan_id is not null then tier_{{ tier }}_bookings_amount end
            as tier_{{ tier }}_bookings_amount,
        case
            when plan_id is not null
                then coalesce(tier_{{ tier }}_rate, 0) * tier_{{ tier }}_bookings_amount
        end as tier_{{ tier }}_payout_amount,
        {%- endfor %}
        case
            when plan_id is not null then decelerator_to_date_amount - decelerator_before_amount
        end as decelerator_amount,
        cap_type,
        cap_value,
        target_incentive_amount,
        payout_cap_amount,
        case
            when plan_id is null then null
            when cap_type = 'attainment' and coalesce(quota_amount, 0) > 0
                then bookings_to_date_amount > cap_value * quota_amount
            when cap_type = 'payout'
                then coalesce(decelerated_to_date_amount > payout_cap_amount, false)
            else false
        end as is_capped,
        case when plan_id is not null then cap_reduction_amount end as cap_reduction_amount,
        case
            when plan_id is not null
                then decelerated_to_date_amount - decelerated_before_amount - cap_reduction_amount
        end as commission_amount
    from capped_payout
)

select * from final
