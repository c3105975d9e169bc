{{ config(tags=['restricted'], meta={'restricted': true}) }}

{#-
    Commission per rep and fiscal quarter (restricted: compensation data, published only to the
    restricted serving file). Quarters that have started, plus the current payout period.

    A quarter is locked once the as-of date reaches quarter_end + var commission_lock_days and the
    ledger (int_commissions_frozen) holds its lock: its row shows the frozen payout line, as paid.
    Open quarters show the commission as the warehouse knows it now (int_commissions_calculated).
    adjustment_amount is paid in a quarter for later changes to locked quarters: in a locked
    quarter the frozen adjustment lines paid in it; in the current payout period (the earliest
    quarter not yet locked) the live difference between the current commission of every locked
    quarter and what was paid for it, which freezes when that period locks.

    payout_amount = commission_amount (the quarter's own bookings) + adjustment_amount.
-#}

with

quarters as (
    select distinct
        fiscal_quarter,
        quarter_start,
        quarter_end,
        cast({{ dbt.dateadd('day', var('commission_lock_days', 15) | int, 'quarter_end') }} as date)
            as lock_date
    from {{ ref('int_fiscal_months_spined') }}
),

ledger as (
    select *
    from {{ ref('int_commissions_frozen') }}
    where lock_date <= {{ as_of_date() }}
),

locked_quarters as (
    select fiscal_quarter
    from ledger
    where line_type = 'lock'
),

open_quarters as (
    select
        fiscal_quarter,
        quarter_start
    from quarters
    where lock_date > {{ as_of_date() }}
),

payout_period as (
    -- the current payout period: the earliest quarter not locked on the as-of date
    select fiscal_quarter
    from open_quarters
    where quarter_start = (select min(earliest.quarter_start) from open_quarters as earliest)
),

calculated as (
    select * from {{ ref('int_commissions_calculated') }}
),

frozen_payouts as (
    select *
    from ledger
    where line_type = 'payout'
),

frozen_adjustments as (
    select
        rep_id,
        fiscal_quarter,
        sum(adjustment_bookings_amount) as adjustment_bookings_amount,
        sum(adjustment_amount) as adjustment_amount
    from ledger
    where line_type = 'adjustment'
    group by rep_id, fiscal_quarter
),

paid as (
    select
        rep_id,
        source_fiscal_quarter,
        sum(
            case
                when line_type = 'payout' then coalesce(commission_amount, 0)
                else adjustment_amount
            end
        ) as paid_amount,
        sum(
            case
                when line_type = 'payout' then commissionable_bookings_amount
                else adjustment_bookings_amount
            end
        ) as paid_bookings_amount
    from ledger
    where line_type in ('payout', 'adjustment')
    group by rep_id, source_fiscal_quarter
),

current_locked as (
    select calculated.*
    from calculated
    inner join locked_quarters
        on calculated.fiscal_quarter = locked_quarters.fiscal_quarter
),

live_adjustments as (
    select
        coalesce(current_locked.rep_id, paid.rep_id) as rep_id,
        payout_period.fiscal_quarter,
        sum({{ round_to_cents(
            'coalesce(current_locked.commissionable_bookings_amount, 0)'
            ~ ' - coalesce(paid.paid_bookings_amount, 0)') }}) as adjustment_bookings_amount,
        sum({{ round_to_cents(
            'coalesce(current_locked.commission_amount, 0) - coalesce(paid.paid_amount, 0)') }})
            as adjustment_amount
    from current_locked
    full outer join paid
        on current_locked.rep_id = paid.rep_id
            and current_locked.fiscal_quarter = paid.source_fiscal_quarter
    cross join payout_period
    group by coalesce(current_locked.rep_id, paid.rep_id), payout_period.fiscal_quarter
),

adjustments as (
    select *
    from frozen_adjustments
    where fiscal_quarter in (select locked_rows.fiscal_quarter from locked_quarters as locked_rows)
    union all
    select *
    from live_adjustments
    where adjustment_amount != 0 or adjustment_bookings_amount != 0
),

open_rows as (
    select calculated.*
    from calculated
    left join locked_quarters
        on calculated.fiscal_quarter = locked_quarters.fiscal_quarter
    where locked_quarters.fiscal_quarter is null
),

commission_rows as (
    select
        rep_id,
        fiscal_quarter,
        plan_id,
        sales_role,
        attainment_basis,
        quota_amount,
        commissionable_bookings_amount,
        won_count,
        attainment,
        base_rate,
        {%- for tier in [1, 2, 3] %}
        tier_{{ tier }}_rate,
        tier_{{ tier }}_bookings_amount,
        tier_{{ tier }}_payout_amount,
        {%- endfor %}
        decelerator_amount,
        cap_type,
        target_incentive_amount,
        is_capped,
        cap_reduction_amount,
        commission_amount,
        frozen_on_as_of_date
    from frozen_payouts

    union all

    select
        rep_id,
        fiscal_quarter,
        plan_id,
        sales_role,
        attainment_basis,
        quota_amount,
        commissionable_bookings_amount,
        won_count,
        attainment,
        base_rate,
        {%- for tier in [1, 2, 3] %}
        tier_{{ tier }}_rate,
        tier_{{ tier }}_bookings_amount,
        tier_{{ tier }}_payout_amount,
        {%- endfor %}
        decelerator_amount,
        cap_type,
        target_incentive_amount,
        is_capped,
        cap_reduction_amount,
        commission_amount,
        cast(null as date) as frozen_on_as_of_date
    from open_rows
),

keys as (
    select
        rep_id,
        fiscal_quarter
    from commission_rows
    union
    select
        rep_id,
        fiscal_quarter
    from adjustments
),

final as (
    select
        keys.rep_id,
        commission_rows.plan_id,
        commission_rows.sales_role,
        keys.fiscal_quarter,
        quarters.quarter_start as period_start,
        quarters.quarter_end as period_end,
        quarters.lock_date,
        locked_quarters.fiscal_quarter is not null as is_locked,
        commission_rows.frozen_on_as_of_date,
        {{ as_of_date() }} as as_of_date,
        commission_rows.attainment_basis,
        commission_rows.quota_amount,
        coalesce(commission_rows.commissionable_bookings_amount, 0)
            as commissionable_bookings_amount,
        cast(coalesce(commission_rows.won_count, 0) as {{ dbt.type_bigint() }}) as won_count,
        commission_rows.attainment,
        commission_rows.base_rate,
        {%- for tier in [1, 2, 3] %}
        commission_rows.tier_{{ tier }}_rate,
        commission_rows.tier_{{ tier }}_bookings_amount,
        commission_rows.tier_{{ tier }}_payout_amount,
        {%- endfor %}
        commission_rows.decelerator_amount,
        coalesce(commission_rows.cap_type, 'none') as cap_type,
        commission_rows.target_incentive_amount,
        coalesce(commission_rows.is_capped, false) as is_capped,
        commission_rows.cap_reduction_amount,
        commission_rows.commission_amount,
        coalesce(adjustments.adjustment_bookings_amount, 0) as adjustment_bookings_amount,
        coalesce(adjustments.adjustment_amount, 0) as adjustment_amount,
        case
            when commission_rows.plan_id is null and adjustments.rep_id is null then null
            else coalesce(commission_rows.commission_amount, 0)
                + coalesce(adjustments.adjustment_amount, 0)
        end as payout_amount
    from keys
    inner join quarters
        on keys.fiscal_quarter = quarters.fiscal_quarter
    left join locked_quarters
        on keys.fiscal_quarter = locked_quarters.fiscal_quarter
    left join commission_rows
        on keys.rep_id = commission_rows.rep_id
            and keys.fiscal_quarter = commission_rows.fiscal_quarter
    left join adjustments
        on keys.rep_id = adjustments.rep_id
            and keys.fiscal_quarter = adjustments.fiscal_quarter
)

select * from final
