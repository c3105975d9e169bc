{#-
    Sales KPIs per rep and fiscal month, as of var as_of_date (docs/metrics.md has every
    definition). Closed-deal metrics credit the owner at close, pipeline created the owner at
    close or, while open, the current owner; open pipeline and qualified opportunities credit
    the owner at the period end. Hierarchy columns are as of the period end where the hierarchy
    history covers it, else current (hierarchy_basis says which). Every ratio ships with its
    numerator and denominator and is NULL when the denominator is empty.
-#}

{%- set trailing_months = var('velocity_trailing_months', 12) | int -%}

with

months as (
    select
        *,
        case
            when period_end < {{ as_of_date() }} then period_end else {{ as_of_date() }}
        end as snapshot_date
    from {{ ref('int_fiscal_months_spined') }}
    where period_start <= {{ as_of_date() }}
),

opportunities as (
    select * from {{ ref('fct_opportunities') }}
),

closed_deals as (
    select
        opportunities.owner_rep_id_at_close as rep_id,
        months.fiscal_month,
        sum(
            case
                when opportunities.is_won then coalesce(opportunities.opportunity_amount, 0) else 0
            end
        )
            as bookings_amount,
        sum(
            case
                when opportunities.is_won
                    and opportunities.opportunity_type in ('new_business', 'expansion')
                    then coalesce(opportunities.opportunity_amount, 0)
                else 0
            end
        ) as new_bookings_amount,
        sum(case when opportunities.is_won then 1 else 0 end) as won_count,
        sum(
            case
                when opportunities.status = 'lost' and opportunities.is_win_rate_eligible then 1
                else 0
            end
        ) as lost_count,
        sum(
            case
                when opportunities.status = 'lost' and not opportunities.is_win_rate_eligible
                    then 1
                else 0
            end
        ) as ineligible_lost_count,
        sum(
            case
                when opportunities.status = 'lost' and opportunities.is_win_rate_eligible
                    then coalesce(opportunities.opportunity_amount, 0)
                else 0
            end
        ) as lost_amount,
        sum(
            case
                when opportunities.is_won and opportunities.opportunity_amount is not null then 1
                else 0
            end
        ) as won_with_amount_count,
        sum(case when opportunities.is_won then opportunities.days_to_close else 0 end)
            as sales_cycle_days_sum
    from opportunities
    inner join months
        on opportunities.close_date between months.period_start and months.period_end
    where opportunities.is_closed
        and opportunities.close_date <= {{ as_of_date() }}
    group by 1, 2
),

created_deals as (
    select
        opportunities.credited_rep_id as rep_id,
        months.fiscal_month,
        count(*) as pipeline_created_count,
        sum(coalesce(opportunities.opportunity_amount, 0)) as pipeline_created_amount
    from opportunities
    inner join months
        on opportunities.created_date between months.period_start and months.period_end
    where opportunities.created_date <= {{ as_of_date() }}
    group by 1, 2
),

qualified_stage as (
    -- velocity counts open deals at or beyond this ladder stage
    select min(stage_order) as stage_order
    from {{ ref('stage_ladder') }}
    where ladder_stage = '{{ var("qualified_ladder_stage") }}'
),

open_deals as (
    select
        snapshots.owner_rep_id as rep_id,
        snapshots.fiscal_month,
        sum(
            case
                when snapshots.forecast_category != 'omitted' and snapshots.is_closing_in_quarter
                    then 1
                else 0
            end
        ) as open_pipeline_count,
        sum(
            case
                when snapshots.forecast_category != 'omitted' and snapshots.is_closing_in_quarter
                    then coalesce(snapshots.opportunity_amount, 0)
                else 0
            end
        ) as open_pipeline_amount,
        sum(
            case
                when snapshots.forecast_category != 'omitted'
                    and snapshots.stage_order >= qualified_stage.stage_order
                    then 1
                else 0
            end
        ) as velocity_qualified_opportunities
    from {{ ref('int_opportunities_snapshotted_monthly') }} as snapshots
    cross join qualified_stage
    group by 1, 2
),

completed_activities as (
    select
        activities.rep_id,
        months.fiscal_month,
        sum(case when activities.activity_type = 'call' then 1 else 0 end) as calls,
        sum(case when activities.activity_type = 'email' then 1 else 0 end) as emails,
        sum(case when activities.activity_type = 'meeting' then 1 else 0 end) as meetings,
        sum(case when activities.activity_type = 'task' then 1 else 0 end) as tasks
    from {{ ref('fct_activities') }} as activities
    inner join months
        on activities.completed_date between months.period_start and months.period_end
    where activities.is_completed
        and activities.completed_date <= {{ as_of_date() }}
    group by 1, 2
),

velocity_deals as (
    -- closed deals of the trailing window ending at the month's snapshot date
    select
        opportunities.owner_rep_id_at_close as rep_id,
        months.fiscal_month,
        sum(case when opportunities.is_won then 1 else 0 end) as velocity_won_count,
        sum(
            case
                when opportunities.is_won
                    or (opportunities.status = 'lost' and opportunities.is_win_rate_eligible)
                    then 1
                else 0
            end
        ) as velocity_closed_count,
        sum(
            case
                when opportunities.is_won then coalesce(opportunities.opportunity_amount, 0) else 0
            end
        )
            as velocity_won_amount,
        sum(
            case
                when opportunities.is_won and opportunities.opportunity_amount is not null then 1
                else 0
            end
        ) as velocity_won_with_amount_count,
        sum(case when opportunities.is_won then opportunities.days_to_close else 0 end)
            as velocity_cycle_days_sum
    from opportunities
    inner join months
        on opportunities.close_date <= months.snapshot_date
            and opportunities.close_date
            > cast({{ dbt.dateadd('month', -trailing_months, 'months.snapshot_date') }} as date)
    where opportunities.is_closed
    group by 1, 2
),

metric_keys as (
    select
        rep_id,
        fiscal_month
    from closed_deals
    union
    select
        rep_id,
        fiscal_month
    from created_deals
    union
    select
        rep_id,
        fiscal_month
    from open_deals
    union
    select
        rep_id,
        fiscal_month
    from completed_activities
),

first_month as (
    select min(months.period_start) as first_period_start
    from metric_keys
    inner join months
        on metric_keys.fiscal_month = months.fiscal_month
),

reps as (
    select * from {{ ref('int_reps_unioned') }}
),

employment_keys as (
    -- reps with any metric also get rows for the quiet months they were employed
    select
        reps.rep_id,
        months.fiscal_month
    from reps
    inner join months
        on reps.hire_date <= months.period_end
            and months.period_start <= coalesce(reps.termination_date, {{ as_of_date() }})
    cross join first_month
    where reps.rep_id in (select metric_keys.rep_id from metric_keys)
        and months.period_start >= first_month.first_period_start
),

spine as (
    select
        rep_id,
        fiscal_month
    from metric_keys
    union
    select
        rep_id,
        fiscal_month
    from employment_keys
),

joined as (
    select
        spine.rep_id,
        months.fiscal_year,
        months.fiscal_quarter,
        spine.fiscal_month,
        months.period_start,
        months.period_end,
        months.snapshot_date,
        coalesce(closed_deals.bookings_amount, 0) as bookings_amount,
        coalesce(closed_deals.new_bookings_amount, 0) as new_bookings_amount,
        cast(coalesce(closed_deals.won_count, 0) as {{ dbt.type_bigint() }}) as won_count,
        cast(coalesce(closed_deals.lost_count, 0) as {{ dbt.type_bigint() }}) as lost_count,
        cast(coalesce(closed_deals.ineligible_lost_count, 0) as {{ dbt.type_bigint() }})
            as ineligible_lost_count,
        coalesce(closed_deals.lost_amount, 0) as lost_amount,
        cast(coalesce(closed_deals.won_with_amount_count, 0) as {{ dbt.type_bigint() }})
            as won_with_amount_count,
        cast(coalesce(closed_deals.sales_cycle_days_sum, 0) as {{ dbt.type_bigint() }})
            as sales_cycle_days_sum,
        cast(coalesce(created_deals.pipeline_created_count, 0) as {{ dbt.type_bigint() }})
            as pipeline_created_count,
        coalesce(created_deals.pipeline_created_amount, 0) as pipeline_created_amount,
        cast(coalesce(open_deals.open_pipeline_count, 0) as {{ dbt.type_bigint() }})
            as open_pipeline_count,
        coalesce(open_deals.open_pipeline_amount, 0) as open_pipeline_amount,
        cast(coalesce(completed_activities.calls, 0) as {{ dbt.type_bigint() }}) as calls,
        cast(coalesce(completed_activities.emails, 0) as {{ dbt.type_bigint() }}) as emails,
        cast(coalesce(completed_activities.meetings, 0) as {{ dbt.type_bigint() }}) as meetings,
        cast(coalesce(completed_activities.tasks, 0) as {{ dbt.type_bigint() }}) as tasks,
        cast(coalesce(open_deals.velocity_qualified_opportunities, 0) as {{ dbt.type_bigint() }})
            as velocity_qualified_opportunities,
        cast(coalesce(velocity_deals.velocity_won_count, 0) as {{ dbt.type_bigint() }})
            as velocity_won_count,
        cast(coalesce(velocity_deals.velocity_closed_count, 0) as {{ dbt.type_bigint() }})
            as velocity_closed_count,
        coalesce(velocity_deals.velocity_won_amount, 0) as velocity_won_amount,
        cast(coalesce(velocity_deals.velocity_won_with_amount_count, 0) as {{ dbt.type_bigint() }})
            as velocity_won_with_amount_count,
        cast(coalesce(velocity_deals.velocity_cycle_days_sum, 0) as {{ dbt.type_bigint() }})
            as velocity_cycle_days_sum,
        quotas.quota_amount as quarter_quota_amount
    from spine
    inner join months
        on spine.fiscal_month = months.fiscal_month
    left join closed_deals
        on spine.rep_id = closed_deals.rep_id
            and spine.fiscal_month = closed_deals.fiscal_month
    left join created_deals
        on spine.rep_id = created_deals.rep_id
            and spine.fiscal_month = created_deals.fiscal_month
    left join open_deals
        on spine.rep_id = open_deals.rep_id
            and spine.fiscal_month = open_deals.fiscal_month
    left join completed_activities
        on spine.rep_id = completed_activities.rep_id
            and spine.fiscal_month = completed_activities.fiscal_month
    left join velocity_deals
        on spine.rep_id = velocity_deals.rep_id
            and spine.fiscal_month = velocity_deals.fiscal_month
    left join {{ ref('int_quotas_aggregated_quarterly') }} as quotas
        on spine.rep_id = quotas.rep_id
            and months.fiscal_quarter = quotas.fiscal_quarter
),

with_quarter_to_date as (
    select
        *,
        sum(bookings_amount) over (
            partition by rep_id, fiscal_quarter
            order by period_start
            rows between unbounded preceding and current row
        ) as quarter_bookings_to_date_amount,
        cast({{ dbt.dateadd('day', 1, 'snapshot_date') }} as {{ dbt.type_timestamp() }})
            as snapshot_end_at
    from joined
),

with_hierarchy as (
    select
        with_quarter_to_date.*,
        case when history.rep_id is not null then history.manager_id else reps.manager_id end
            as manager_id,
        case when history.rep_id is not null then history.team else reps.team end as team,
        case when history.rep_id is not null then history.region else reps.region end as region,
        case when history.rep_id is not null then history.segment else reps.segment end
            as segment,
        case when history.rep_id is not null then 'period_end' else 'current' end
            as hierarchy_basis
    from with_quarter_to_date
    left join reps
        on with_quarter_to_date.rep_id = reps.rep_id
    left join {{ ref('int_reps_historized') }} as history
        on with_quarter_to_date.rep_id = history.rep_id
            and with_quarter_to_date.snapshot_end_at > history.valid_from
            and (
                history.valid_to is null
                or with_quarter_to_date.snapshot_end_at <= history.valid_to
            )
),

ratios as (
    select
        *,
        won_count + lost_count as closed_count,
        bookings_amount + lost_amount as closed_amount,
        {{ safe_divide('velocity_won_count', 'velocity_closed_count') }} as velocity_win_rate,
        {{ safe_divide('velocity_won_amount', 'velocity_won_with_amount_count') }}
            as velocity_avg_deal_size_amount,
        {{ safe_divide('velocity_cycle_days_sum', 'velocity_won_count') }} as velocity_cycle_days,
        case
            when quarter_quota_amount is not null
                then greatest(quarter_quota_amount - quarter_bookings_to_date_amount, 0)
        end as remaining_quota_amount
    from with_hierarchy
),

final as (
    select
        rep_id,
        manager_id,
        team,
        region,
        segment,
        hierarchy_basis,
        fiscal_year,
        fiscal_quarter,
        fiscal_month,
        period_start,
        period_end,
        {{ as_of_date() }} as as_of_date,
        bookings_amount,
        new_bookings_amount,
        won_count,
        lost_count,
        closed_count,
        ineligible_lost_count,
        bookings_amount as won_amount,
        lost_amount,
        closed_amount,
        {{ safe_divide('won_count', 'closed_count') }} as win_rate_by_count,
        {{ safe_divide('bookings_amount', 'closed_amount') }} as win_rate_by_value,
        won_with_amount_count,
        {{ safe_divide('bookings_amount', 'won_with_amount_count') }} as avg_deal_size_amount,
        sales_cycle_days_sum,
        {{ safe_divide('sales_cycle_days_sum', 'won_count') }} as avg_sales_cycle_days,
        pipeline_created_count,
        pipeline_created_amount,
        open_pipeline_count,
        open_pipeline_amount,
        calls,
        emails,
        meetings,
        tasks,
        velocity_qualified_opportunities,
        velocity_won_count,
        velocity_closed_count,
        velocity_win_rate,
        velocity_won_amount,
        velocity_won_with_amount_count,
        velocity_avg_deal_size_amount,
        velocity_cycle_days_sum,
        velocity_cycle_days,
        velocity_qualified_opportunities * velocity_avg_deal_size_amount * velocity_win_rate
        / nullif(velocity_cycle_days, 0) as sales_velocity_amount_per_day,
        quarter_quota_amount,
        quarter_bookings_to_date_amount,
        remaining_quota_amount,
        {{ safe_divide('open_pipeline_amount', 'quarter_quota_amount') }}
            as pipeline_coverage_ratio,
        {{ safe_divide('open_pipeline_amount', 'remaining_quota_amount') }}
            as remaining_coverage_ratio
    from ratios
)

select * from final
