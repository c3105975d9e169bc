{#-
    Quota attainment rolled up the sales hierarchy: one row per level (rep, manager, team,
    region, company), entity and fiscal period, from mart_quota_attainment. Each rep counts
    under the manager, team and region it had at the period end (the mart's hierarchy columns);
    reps without one roll up under entity 'unassigned'. Every amount is the sum over the reps
    beneath, and attainment is Σ bookings ÷ Σ ramp-adjusted quota, never an average of rep
    ratios (sales-metrics §5).

    Rep counts: reps_count = reps with a ramp-adjusted quota in the period; "% at or above
    quota" is computed over ramped reps (tenure beyond their ramp schedule at the period end),
    ramping reps are counted separately.
-#}

with

attainment as (
    select * from {{ ref('mart_quota_attainment') }}
),

reps as (
    select
        rep_id,
        rep_name
    from {{ ref('int_reps_unioned') }}
),

leveled as (
    {{ rollup_levels('attainment') }}
),

aggregated as (
    select
        level,  -- noqa: RF04
        entity_id,
        period_type,
        fiscal_period,
        min(period_start) as period_start,
        max(period_end) as period_end,
        sum(quota_amount) as quota_amount,
        sum(ramp_adjusted_quota_amount) as ramp_adjusted_quota_amount,
        sum(bookings_amount) as bookings_amount,
        sum(won_count) as won_count,
        sum(expected_bookings_amount) as expected_bookings_amount,
        sum(capacity_amount) as capacity_amount,
        sum(open_pipeline_in_period_amount) as open_pipeline_in_period_amount,
        sum(case when ramp_adjusted_quota_amount > 0 then 1 else 0 end) as reps_count,
        sum(case when ramp_adjusted_quota_amount > 0 and is_ramped then 1 else 0 end)
            as ramped_reps_count,
        sum(
            case
                when ramp_adjusted_quota_amount > 0 and is_ramped and attainment >= 1 then 1
                else 0
            end
        ) as reps_at_or_above_quota,
        sum(case when ramp_adjusted_quota_amount > 0 and not is_ramped then 1 else 0 end)
            as ramping_reps_count,
        sum(
            case
                when ramp_adjusted_quota_amount > 0 and not is_ramped and attainment >= 1 then 1
                else 0
            end
        ) as ramping_reps_at_or_above_quota
    from leveled
    group by level, entity_id, period_type, fiscal_period  -- noqa: RF04
),

final as (
    select
        aggregated.level,  -- noqa: RF04
        aggregated.entity_id,
        case
            when aggregated.entity_id = 'unassigned' and aggregated.level != 'rep'
                then 'Unassigned'
            when aggregated.level in ('rep', 'manager')
                then coalesce(reps.rep_name, aggregated.entity_id)
            when aggregated.level = 'company' then 'Company'
            else aggregated.entity_id
        end as entity_name,
        aggregated.period_type,
        aggregated.fiscal_period,
        aggregated.period_start,
        aggregated.period_end,
        {{ as_of_date() }} as as_of_date,
        aggregated.quota_amount,
        aggregated.ramp_adjusted_quota_amount,
        aggregated.bookings_amount,
        cast(aggregated.won_count as {{ dbt.type_bigint() }}) as won_count,
        {{ safe_divide('aggregated.bookings_amount', 'aggregated.ramp_adjusted_quota_amount') }}
            as attainment,
        aggregated.expected_bookings_amount,
        {{ safe_divide('aggregated.bookings_amount', 'aggregated.expected_bookings_amount') }}
            as pacing_ratio,
        aggregated.capacity_amount,
        aggregated.open_pipeline_in_period_amount,
        {{ safe_divide('aggregated.open_pipeline_in_period_amount',
                       'aggregated.ramp_adjusted_quota_amount') }} as pipeline_coverage_ratio,
        cast(aggregated.reps_count as {{ dbt.type_bigint() }}) as reps_count,
        cast(aggregated.ramped_reps_count as {{ dbt.type_bigint() }}) as ramped_reps_count,
        cast(aggregated.reps_at_or_above_quota as {{ dbt.type_bigint() }})
            as reps_at_or_above_quota,
        {{ safe_divide('aggregated.reps_at_or_above_quota', 'aggregated.ramped_reps_count') }}
            as ramped_reps_at_or_above_quota_rate,
        cast(aggregated.ramping_reps_count as {{ dbt.type_bigint() }}) as ramping_reps_count,
        cast(aggregated.ramping_reps_at_or_above_quota as {{ dbt.type_bigint() }})
            as ramping_reps_at_or_above_quota
    from aggregated
    left join reps
        on aggregated.entity_id = reps.rep_id
)

select * from final
