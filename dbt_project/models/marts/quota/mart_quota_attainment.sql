{#-
    Quota attainment per rep and fiscal period (month, quarter, year) as of var as_of_date
    (sales-metrics §2, §5). A period's quota, ramp-adjusted quota and bookings are the sums of
    its months (int_quotas_ramped_monthly); every rep with a quota or bookings in the period has
    a row, so company bookings equal the won deals of fct_opportunities. Years appear once they
    have started.

    Pacing: expected_attainment = elapsed days (period start through the as-of date, inclusive)
    ÷ days in the period; pacing_ratio = bookings ÷ (ramp-adjusted quota × expected_attainment).
    Open pipeline: open, non-omitted deals closing in the period, owned by the rep at the
    period end (at the as-of date for periods not yet over), from the month-end states of
    fct_opportunity_states. Hierarchy columns are as of the same moment where the hierarchy
    history covers it, else current (hierarchy_basis).
-#}

{%- set capacity_rate = var('capacity_expected_attainment', 0.8) -%}

with

rep_months as (
    select * from {{ ref('int_quotas_ramped_monthly') }}
),

periods as (
    select
        rep_id,
        'month' as period_type,
        fiscal_month as fiscal_period,
        period_start,
        period_end,
        quota_amount,
        ramp_adjusted_quota_amount,
        bookings_amount,
        won_count
    from rep_months

    union all

    select
        rep_id,
        'quarter' as period_type,
        fiscal_quarter as fiscal_period,
        quarter_start as period_start,
        quarter_end as period_end,
        sum(quota_amount) as quota_amount,
        sum(ramp_adjusted_quota_amount) as ramp_adjusted_quota_amount,
        sum(bookings_amount) as bookings_amount,
        sum(won_count) as won_count
    from rep_months
    group by rep_id, fiscal_quarter, quarter_start, quarter_end

    union all

    select
        rep_id,
        'year' as period_type,
        {{ dbt.concat(["'FY'", dbt.cast('fiscal_year', dbt.type_string())]) }} as fiscal_period,
        year_start as period_start,
        year_end as period_end,
        sum(quota_amount) as quota_amount,
        sum(ramp_adjusted_quota_amount) as ramp_adjusted_quota_amount,
        sum(bookings_amount) as bookings_amount,
        sum(won_count) as won_count
    from rep_months
    where year_start <= {{ as_of_date() }}
    group by rep_id, fiscal_year, year_start, year_end
),

with_snapshot as (
    select
        periods.*,
        case
            when periods.period_end < {{ as_of_date() }} then periods.period_end
            else {{ as_of_date() }}
        end as snapshot_date,
        case
            when periods.period_end < {{ as_of_date() }}
                then cast({{ dbt.dateadd('day', 1, 'periods.period_end') }} as {{ dbt.type_timestamp() }})  -- noqa: LT05
            else {{ as_of_end_timestamp() }}
        end as snapshot_end_at,
        {{ salesops.datediff('periods.period_start', 'periods.period_end', 'day') }} + 1  -- noqa: LT05
            as days_in_period,
        case
            when periods.period_start > {{ as_of_date() }} then 0
            when periods.period_end <= {{ as_of_date() }}
                then {{ salesops.datediff('periods.period_start', 'periods.period_end', 'day') }} + 1  -- noqa: LT05
            else {{ salesops.datediff('periods.period_start', as_of_date(), 'day') }} + 1  -- noqa: LT05
        end as elapsed_days
    from periods
),

open_pipeline as (
    select
        with_snapshot.rep_id,
        with_snapshot.period_type,
        with_snapshot.fiscal_period,
        sum(coalesce(snapshots.opportunity_amount, 0)) as open_pipeline_in_period_amount,
        count(*) as open_pipeline_count
    from with_snapshot
    inner join {{ ref('int_opportunities_snapshotted_monthly') }} as snapshots
        on with_snapshot.rep_id = snapshots.owner_rep_id
            and with_snapshot.snapshot_date = snapshots.snapshot_date
            and snapshots.close_date between with_snapshot.period_start and with_snapshot.period_end
    where snapshots.forecast_category != 'omitted'
    group by with_snapshot.rep_id, with_snapshot.period_type, with_snapshot.fiscal_period
),

reps as (
    select * from {{ ref('int_reps_unioned') }}
),

roles as (
    select * from {{ ref('int_sales_roles_assigned') }}
),

joined as (
    select
        with_snapshot.*,
        coalesce(open_pipeline.open_pipeline_in_period_amount, 0)
            as open_pipeline_in_period_amount,
        cast(coalesce(open_pipeline.open_pipeline_count, 0) as {{ dbt.type_bigint() }})
            as open_pipeline_count,
        case when history.rep_id is not null then history.manager_id else reps.manager_id end
            as manager_id,
        case when history.rep_id is not null then history.team else reps.team end as team,
        case when history.rep_id is not null then history.region else reps.region end as region,
        case when history.rep_id is not null then history.segment else reps.segment end
            as segment,
        case when history.rep_id is not null then 'period_end' else 'current' end
            as hierarchy_basis,
        reps.source_system,
        roles.sales_role,
        -- ramped (sales-metrics §5): tenure beyond the ramp schedule at the period end (at the
        -- as-of date for periods not yet over)
        coalesce(
            {{ quota_tenure_month(
                'reps.hire_date',
                'cast(' ~ dbt.date_trunc('month', 'with_snapshot.snapshot_date') ~ ' as date)') }}
            > coalesce(roles.ramp_months, 0),
            true
        ) as is_ramped
    from with_snapshot
    left join open_pipeline
        on with_snapshot.rep_id = open_pipeline.rep_id
            and with_snapshot.period_type = open_pipeline.period_type
            and with_snapshot.fiscal_period = open_pipeline.fiscal_period
    left join reps
        on with_snapshot.rep_id = reps.rep_id
    left join roles
        on with_snapshot.rep_id = roles.rep_id
    left join {{ ref('int_reps_historized') }} as history
        on with_snapshot.rep_id = history.rep_id
            and with_snapshot.snapshot_end_at > history.valid_from
            and (history.valid_to is null or with_snapshot.snapshot_end_at <= history.valid_to)
),

measures as (
    select
        *,
        ramp_adjusted_quota_amount
        * {{ safe_divide('elapsed_days', 'days_in_period') }} as expected_bookings_amount,
        greatest(ramp_adjusted_quota_amount - bookings_amount, 0) as remaining_quota_amount
    from joined
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
        period_type,
        fiscal_period,
        period_start,
        period_end,
        {{ as_of_date() }} as as_of_date,
        quota_amount,
        {{ safe_divide('ramp_adjusted_quota_amount', 'quota_amount') }} as ramp_factor,
        ramp_adjusted_quota_amount,
        is_ramped,
        bookings_amount,
        cast(won_count as {{ dbt.type_bigint() }}) as won_count,
        {{ safe_divide('bookings_amount', 'ramp_adjusted_quota_amount') }} as attainment,
        elapsed_days,
        days_in_period,
        {{ safe_divide('elapsed_days', 'days_in_period') }} as expected_attainment,
        expected_bookings_amount,
        {{ safe_divide('bookings_amount', 'expected_bookings_amount') }} as pacing_ratio,
        bookings_amount * days_in_period / nullif(elapsed_days, 0) as run_rate_projection_amount,
        ramp_adjusted_quota_amount * {{ capacity_rate }} as capacity_amount,
        open_pipeline_in_period_amount,
        open_pipeline_count,
        remaining_quota_amount,
        {{ safe_divide('open_pipeline_in_period_amount', 'ramp_adjusted_quota_amount') }}
            as pipeline_coverage_ratio,
        {{ safe_divide('open_pipeline_in_period_amount', 'remaining_quota_amount') }}
            as remaining_coverage_ratio
    from measures
)

select * from final
