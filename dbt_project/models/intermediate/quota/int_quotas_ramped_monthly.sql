{{ config(materialized='table') }}

{#-
    One row per rep and fiscal month with a quota or bookings: the full quota
    (int_quotas_allocated_monthly), the ramp and the bookings (won deals closed in the month on
    or before the as-of date, credited to the owner at close, in the corporate currency at the
    close-date rate).

    Ramp (sales-metrics §5): tenure month 1 (M1) starts by the mid-month rule of the
    quota_counting_month macro; ramp_pct is the rep's sales role's ramp schedule for the tenure
    month (0 before M1, 1 after the schedule's last month or without a schedule). A month counts
    only while the rep is employed (same rule for leavers), so joiners and leavers get whole
    months pro-rated out of a quarter or year:

        ramp_adjusted_quota_amount = quota_amount x ramp_pct x (1 if the month counts else 0)

    Hierarchy columns are as of the month end (the as-of date for the current month) where the
    hierarchy history covers it, else current (hierarchy_basis says which).
-#}

-- depends_on: {{ ref('int_quota_seed_rows_validated') }}

with

months as (
    select
        fiscal_year,
        fiscal_quarter,
        fiscal_month,
        period_start,
        period_end,
        quarter_start,
        quarter_end,
        min(period_start) over (partition by fiscal_year) as year_start,
        max(period_end) over (partition by fiscal_year) as year_end
    from {{ ref('int_fiscal_months_spined') }}
),

quotas as (
    select * from {{ ref('int_quotas_allocated_monthly') }}
),

bookings as (
    select
        opportunities.owner_rep_id_at_close as rep_id,
        months.fiscal_month,
        sum(coalesce(opportunities.opportunity_amount, 0)) as bookings_amount,
        count(*) as won_count
    from {{ ref('fct_opportunities') }} as opportunities
    inner join months
        on opportunities.close_date between months.period_start and months.period_end
    where opportunities.is_won
        and opportunities.close_date <= {{ as_of_date() }}
    group by 1, 2
),

keys as (
    select
        rep_id,
        fiscal_month
    from quotas
    union
    select
        rep_id,
        fiscal_month
    from bookings
),

reps as (
    select * from {{ ref('int_reps_unioned') }}
),

roles as (
    select * from {{ ref('int_sales_roles_assigned') }}
),

joined as (
    select
        keys.rep_id,
        months.fiscal_year,
        months.fiscal_quarter,
        keys.fiscal_month,
        months.period_start,
        months.period_end,
        months.quarter_start,
        months.quarter_end,
        months.year_start,
        months.year_end,
        case
            when months.period_end < {{ as_of_date() }} then months.period_end
            else {{ as_of_date() }}
        end as snapshot_date,
        case
            when months.period_end < {{ as_of_date() }}
                then cast({{ dbt.dateadd('day', 1, 'months.period_end') }} as {{ dbt.type_timestamp() }})  -- noqa: LT05
            else {{ as_of_end_timestamp() }}
        end as snapshot_end_at,
        reps.hire_date,
        reps.termination_date,
        reps.source_system,
        roles.sales_role,
        coalesce(roles.is_quota_carrying, false) as is_quota_carrying,
        coalesce(roles.ramp_months, 0) as ramp_months,
        {{ quota_tenure_month('reps.hire_date', 'months.period_start') }} as tenure_month,  -- noqa: LT05
        {{ quota_month_is_counted('reps.hire_date', 'reps.termination_date', 'months.period_start') }}  -- noqa: LT05
            as is_counted,
        quotas.quota_amount is not null as has_quota,
        coalesce(quotas.quota_amount, 0) as quota_amount,
        quotas.quota_source,
        coalesce(bookings.bookings_amount, 0) as bookings_amount,
        cast(coalesce(bookings.won_count, 0) as {{ dbt.type_bigint() }}) as won_count
    from keys
    inner join months
        on keys.fiscal_month = months.fiscal_month
    left join quotas
        on keys.rep_id = quotas.rep_id
            and keys.fiscal_month = quotas.fiscal_month
    left join bookings
        on keys.rep_id = bookings.rep_id
            and keys.fiscal_month = bookings.fiscal_month
    left join reps
        on keys.rep_id = reps.rep_id
    left join roles
        on keys.rep_id = roles.rep_id
),

ramped as (
    select
        joined.*,
        case
            when joined.tenure_month is null then 1
            when joined.tenure_month < 1 then 0
            else coalesce(schedules.ramp_pct, 1)
        end as ramp_pct
    from joined
    left join {{ ref('ramp_schedules') }} as schedules
        on joined.sales_role = schedules.sales_role
            and joined.tenure_month = schedules.tenure_month
),

with_hierarchy as (
    select
        ramped.*,
        case when history.rep_id is not null then history.manager_id else reps.manager_id end
            as manager_id,
        case when history.rep_id is not null then history.team else reps.team end as team,
        case when history.rep_id is not null then history.region else reps.region end as region,
        case when history.rep_id is not null then history.segment else reps.segment end
            as segment,
        case when history.rep_id is not null then 'period_end' else 'current' end
            as hierarchy_basis
    from ramped
    left join reps
        on ramped.rep_id = reps.rep_id
    left join {{ ref('int_reps_historized') }} as history
        on ramped.rep_id = history.rep_id
            and ramped.snapshot_end_at > history.valid_from
            and (history.valid_to is null or ramped.snapshot_end_at <= history.valid_to)
),

final as (
    select
        rep_id,
        manager_id,
        team,
        region,
        segment,
        hierarchy_basis,
        source_system,
        sales_role,
        is_quota_carrying,
        fiscal_year,
        fiscal_quarter,
        fiscal_month,
        period_start,
        period_end,
        quarter_start,
        quarter_end,
        year_start,
        year_end,
        snapshot_date,
        hire_date,
        termination_date,
        tenure_month,
        ramp_months,
        is_counted,
        ramp_pct,
        case when is_counted then ramp_pct else 0 end as ramp_factor,
        has_quota,
        quota_source,
        quota_amount,
        quota_amount * case when is_counted then ramp_pct else 0 end as ramp_adjusted_quota_amount,
        bookings_amount,
        won_count
    from with_hierarchy
)

select * from final
