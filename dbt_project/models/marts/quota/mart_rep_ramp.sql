{#-
    How reps ramp: one row per rep and tenure month, from the rep's start to their termination or
    the as-of date. Reps with a quota-carrying sales role or any quota. Tenure month 1 (M1) starts
    by the mid-month rule (macros/quota/ramp.sql); a start after the 15th adds a tenure month 0
    for the partial start month. ramp_factor is the ramp schedule's share of the full quota that
    the month carries (0 when the month does not count), ramp_quota_amount the ramp-adjusted
    quota of int_quotas_ramped_monthly.
-#}

with

rep_months as (
    select * from {{ ref('int_quotas_ramped_monthly') }}
),

roles as (
    select * from {{ ref('int_sales_roles_assigned') }}
),

quota_holders as (
    select distinct rep_id
    from rep_months
    where has_quota
),

reps as (
    -- a join, not `rep_id in (subquery)` under an OR: with the unit test's literal fixtures as
    -- input, Spark 4.3 failed that plan (ClassCastException deserializing UnionExec)
    select reps.*
    from {{ ref('int_reps_unioned') }} as reps
    left join roles
        on reps.rep_id = roles.rep_id
    left join quota_holders
        on reps.rep_id = quota_holders.rep_id
    where reps.hire_date is not null
        and reps.hire_date <= {{ as_of_date() }}
        and (coalesce(roles.is_quota_carrying, false) or quota_holders.rep_id is not null)
),

months as (
    select
        fiscal_month,
        fiscal_quarter,
        period_start,
        period_end
    from {{ ref('int_fiscal_months_spined') }}
    where period_start <= {{ as_of_date() }}
),

first_deals as (
    select
        owner_rep_id_at_close as rep_id,
        min(close_date) as first_deal_date
    from {{ ref('fct_opportunities') }}
    where is_won
        and close_date <= {{ as_of_date() }}
    group by owner_rep_id_at_close
),

tenure as (
    select
        reps.rep_id,
        reps.hire_date,
        reps.termination_date,
        months.fiscal_month,
        months.fiscal_quarter,
        months.period_start,
        months.period_end,
        {{ quota_tenure_month('reps.hire_date', 'months.period_start') }} as tenure_month,
        {{ quota_month_is_counted(
            'reps.hire_date', 'reps.termination_date', 'months.period_start') }} as is_counted
    from reps
    inner join months
        on reps.hire_date <= months.period_end
            and coalesce(reps.termination_date, {{ as_of_date() }}) >= months.period_start
),

joined as (
    select
        tenure.*,
        roles.sales_role,
        case
            when tenure.tenure_month < 1 then 0
            else coalesce(schedules.ramp_pct, 1)
        end as ramp_pct,
        coalesce(rep_months.quota_amount, 0) as full_quota_amount,
        coalesce(rep_months.ramp_adjusted_quota_amount, 0) as ramp_quota_amount,
        coalesce(rep_months.bookings_amount, 0) as bookings_amount,
        coalesce(rep_months.won_count, 0) as won_count,
        first_deals.first_deal_date
    from tenure
    left join roles
        on tenure.rep_id = roles.rep_id
    left join {{ ref('ramp_schedules') }} as schedules
        on roles.sales_role = schedules.sales_role
            and tenure.tenure_month = schedules.tenure_month
    left join rep_months
        on tenure.rep_id = rep_months.rep_id
            and tenure.fiscal_month = rep_months.fiscal_month
    left join first_deals
        on tenure.rep_id = first_deals.rep_id
),

final as (
    select
        rep_id,
        sales_role,
        hire_date,
        termination_date,
        tenure_month,
        fiscal_month,
        fiscal_quarter,
        period_start,
        period_end,
        {{ as_of_date() }} as as_of_date,
        is_counted,
        cast(case when is_counted then ramp_pct else 0 end as {{ type_double() }}) as ramp_factor,
        full_quota_amount,
        ramp_quota_amount,
        bookings_amount,
        cast(won_count as {{ dbt.type_bigint() }}) as won_count,
        sum(bookings_amount) over (
            partition by rep_id
            order by period_start
            rows between unbounded preceding and current row
        ) as cumulative_bookings_amount,
        {{ safe_divide('bookings_amount', 'ramp_quota_amount') }} as attainment,
        coalesce(first_deal_date between period_start and period_end, false)
            as is_first_deal_month,
        first_deal_date,
        {{ salesops.datediff('hire_date', 'first_deal_date', 'day') }} as days_to_first_deal  -- noqa: LT05
    from joined
)

select * from final
