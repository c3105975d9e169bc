{{
    config(
        materialized='incremental',
        schema='ledger',
        incremental_strategy='append',
        full_refresh=false,
        on_schema_change='fail',
        tags=['restricted'],
        meta={'restricted': true},
    )
}}

{#-
    The commission ledger (schema `ledger`): append-only history of what was paid for every locked
    quarter. It is never rebuilt (full_refresh: false): a `dbt build --full-refresh` of everything
    else leaves it alone, so a paid number never changes silently. See docs/quota-and-commission.md for the
    operational rules.

    A quarter locks on quarter_end + var commission_lock_days. The first run whose as_of_date is on
    or after that day appends, for each quarter that locks in this run:
      * a `lock` marker (rep_id NULL) - the quarter is now locked, whatever its reps;
      * a `payout` line per rep: int_commissions_calculated as the warehouse knows it in this run;
    and, paid in the earliest quarter locking in this run, an `adjustment` line per rep and
    earlier locked quarter whose commission changed since it was paid: the current commission
    (int_commissions_calculated) minus its payout line and every adjustment already paid for it,
    rounded to the cent. Later CRM edits to a locked quarter's deals (or seed edits) therefore
    become adjustment lines, never a change of a frozen line.

    Given the same warehouse and sequence of as_of_date values the ledger is the same.
-#}

with

calculated as (
    select * from {{ ref('int_commissions_calculated') }}
),

quarters as (
    select distinct
        fiscal_quarter,
        quarter_start,
        quarter_end,
        cast({{ dbt.dateadd('day', var('commission_lock_days', 15) | int, 'quarter_end') }} as date)
            as lock_date
    from {{ ref('int_fiscal_months_spined') }}
),

previous as (
    {% if is_incremental() %}
    select * from {{ this }}
    {% else %}
    select
        cast(null as {{ dbt.type_string() }}) as line_type,
        cast(null as {{ dbt.type_string() }}) as fiscal_quarter,
        cast(null as {{ dbt.type_string() }}) as source_fiscal_quarter,
        cast(null as {{ dbt.type_string() }}) as rep_id,
        cast(null as {{ type_double() }}) as commissionable_bookings_amount,
        cast(null as {{ type_double() }}) as commission_amount,
        cast(null as {{ type_double() }}) as adjustment_bookings_amount,
        cast(null as {{ type_double() }}) as adjustment_amount
    {{ empty_relation_filter() }}
    {% endif %}
),

locked_before as (
    select fiscal_quarter
    from previous
    where line_type = 'lock'
),

newly_locked as (
    select quarters.*
    from quarters
    where quarters.lock_date <= {{ as_of_date() }}
        and quarters.quarter_start >= (
            select min(calculated_quarters.quarter_start) from calculated as calculated_quarters
        )
        and quarters.fiscal_quarter not in (
            select locked_rows.fiscal_quarter from locked_before as locked_rows
        )
),

first_newly_locked as (
    select min(quarter_start) as quarter_start
    from newly_locked
),

paid_in as (
    -- adjustments of this run are paid in the earliest quarter it locks
    select
        newly_locked.fiscal_quarter,
        newly_locked.lock_date
    from newly_locked
    inner join first_newly_locked
        on newly_locked.quarter_start = first_newly_locked.quarter_start
),

lock_lines as (
    select
        'lock' as line_type,
        fiscal_quarter,
        fiscal_quarter as source_fiscal_quarter,
        cast(null as {{ dbt.type_string() }}) as rep_id,
        lock_date
    from newly_locked
),

payout_lines as (
    select
        calculated.*,
        'payout' as line_type,
        calculated.fiscal_quarter as source_fiscal_quarter,
        newly_locked.lock_date as locked_on
    from calculated
    inner join newly_locked
        on calculated.fiscal_quarter = newly_locked.fiscal_quarter
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
    from previous
    where line_type in ('payout', 'adjustment')
    group by rep_id, source_fiscal_quarter
),

current_locked as (
    select *
    from calculated
    where fiscal_quarter in (select locked_rows.fiscal_quarter from locked_before as locked_rows)
),

differences as (
    select
        coalesce(current_locked.rep_id, paid.rep_id) as rep_id,
        coalesce(current_locked.fiscal_quarter, paid.source_fiscal_quarter)
            as source_fiscal_quarter,
        current_locked.plan_id,
        {{ round_to_cents(
            'coalesce(current_locked.commissionable_bookings_amount, 0)'
            ~ ' - coalesce(paid.paid_bookings_amount, 0)') }} as adjustment_bookings_amount,
        {{ round_to_cents(
            'coalesce(current_locked.commission_amount, 0) - coalesce(paid.paid_amount, 0)') }}
            as adjustment_amount
    from current_locked
    full outer join paid
        on current_locked.rep_id = paid.rep_id
            and current_locked.fiscal_quarter = paid.source_fiscal_quarter
),

adjustment_lines as (
    select
        differences.*,
        'adjustment' as line_type,
        paid_in.fiscal_quarter,
        paid_in.lock_date
    from differences
    cross join paid_in
    where differences.adjustment_amount != 0 or differences.adjustment_bookings_amount != 0
),

lines as (
    select
        line_type,
        fiscal_quarter,
        source_fiscal_quarter,
        rep_id,
        lock_date,
        cast(null as {{ dbt.type_string() }}) as plan_id,
        cast(null as {{ dbt.type_string() }}) as sales_role,
        cast(null as {{ dbt.type_string() }}) as attainment_basis,
        cast(null as {{ type_double() }}) as quota_amount,
        cast(null as {{ type_double() }}) as commissionable_bookings_amount,
        cast(null as {{ dbt.type_bigint() }}) as won_count,
        cast(null as {{ type_double() }}) as attainment,
        cast(null as {{ type_double() }}) as base_rate,
        {%- for tier in [1, 2, 3] %}
        cast(null as {{ type_double() }}) as tier_{{ tier }}_rate,
        cast(null as {{ type_double() }}) as tier_{{ tier }}_bookings_amount,
        cast(null as {{ type_double() }}) as tier_{{ tier }}_payout_amount,
        {%- endfor %}
        cast(null as {{ type_double() }}) as decelerator_amount,
        cast(null as {{ dbt.type_string() }}) as cap_type,
        cast(null as {{ type_double() }}) as target_incentive_amount,
        cast(null as {{ dbt.type_boolean() }}) as is_capped,
        cast(null as {{ type_double() }}) as cap_reduction_amount,
        cast(null as {{ type_double() }}) as commission_amount,
        cast(null as {{ type_double() }}) as adjustment_bookings_amount,
        cast(null as {{ type_double() }}) as adjustment_amount
    from lock_lines

    union all

    select
        line_type,
        fiscal_quarter,
        source_fiscal_quarter,
        rep_id,
        locked_on as lock_date,
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
        cast(null as {{ type_double() }}) as adjustment_bookings_amount,
        cast(null as {{ type_double() }}) as adjustment_amount
    from payout_lines

    union all

    select
        line_type,
        fiscal_quarter,
        source_fiscal_quarter,
        rep_id,
        lock_date,
        plan_id,
        cast(null as {{ dbt.type_string() }}) as sales_role,
        cast(null as {{ dbt.type_string() }}) as attainment_basis,
        cast(null as {{ type_double() }}) as quota_amount,
        cast(null as {{ type_double() }}) as commissionable_bookings_amount,
        cast(null as {{ dbt.type_bigint() }}) as won_count,
        cast(null as {{ type_double() }}) as attainment,
        cast(null as {{ type_double() }}) as base_rate,
        {%- for tier in [1, 2, 3] %}
        cast(null as {{ type_double() }}) as tier_{{ tier }}_rate,
        cast(null as {{ type_double() }}) as tier_{{ tier }}_bookings_amount,
        cast(null as {{ type_double() }}) as tier_{{ tier }}_payout_amount,
        {%- endfor %}
        cast(null as {{ type_double() }}) as decelerator_amount,
        cast(null as {{ dbt.type_string() }}) as cap_type,
        cast(null as {{ type_double() }}) as target_incentive_amount,
        cast(null as {{ dbt.type_boolean() }}) as is_capped,
        cast(null as {{ type_double() }}) as cap_reduction_amount,
        cast(null as {{ type_double() }}) as commission_amount,
        adjustment_bookings_amount,
        adjustment_amount
    from adjustment_lines
)

select
    *,
    {{ as_of_date() }} as frozen_on_as_of_date
from lines
