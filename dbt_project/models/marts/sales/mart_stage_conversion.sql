{#-
    Stage conversion per ladder stage and the fiscal quarter in which deals first reached it
    (sales-metrics §4). A deal reaches stage k when it enters k or any later stage of the ladder
    (skipped stages count as reached on the jump; regressions never un-reach a stage; closed
    lost sits outside the ladder). Rates use only deals resolved now (won or lost), so open
    deals never depress recent cohorts: stage_to_next_rate = advanced / resolved, where advanced
    counts resolved deals that also reached the next ladder stage; stage_to_won_rate =
    won / resolved.
-#}

with

ladder as (
    select
        ladder_stage,
        stage_order,
        lead(stage_order) over (order by stage_order) as next_stage_order
    from (
        select distinct
            ladder_stage,
            stage_order
        from {{ ref('stage_ladder') }}
        where stage_order is not null
    ) as ladder_stages
),

visits as (
    select * from {{ ref('fct_opportunity_stage_history') }}
    where stage_order is not null
        and entered_at < {{ as_of_end_timestamp() }}
),

opportunities as (
    select
        opportunity_id,
        status
    from {{ ref('fct_opportunities') }}
),

reached as (
    select
        visits.opportunity_id,
        ladder.ladder_stage,
        ladder.stage_order,
        ladder.next_stage_order,
        min(visits.entered_at) as reached_at
    from ladder
    inner join visits
        on ladder.stage_order <= visits.stage_order
    group by 1, 2, 3, 4
),

days_in_stage as (
    -- total time in the stage over its finished visits
    select
        opportunity_id,
        stage_order,
        sum(days_in_stage) as days_in_stage
    from visits
    where exited_at is not null
        and exited_at < {{ as_of_end_timestamp() }}
    group by 1, 2
),

deals as (
    select
        reached.opportunity_id,
        reached.ladder_stage,
        reached.stage_order,
        reached.next_stage_order,
        {{ fiscal_quarter_label('cast(reached.reached_at as date)') }} as fiscal_quarter,
        {{ fiscal_period_start('quarter', 'cast(reached.reached_at as date)') }}
            as period_start,
        opportunities.status,
        opportunities.status in ('won', 'lost') as is_resolved,
        next_reached.opportunity_id is not null as has_advanced,
        days_in_stage.days_in_stage
    from reached
    inner join opportunities
        on reached.opportunity_id = opportunities.opportunity_id
    left join reached as next_reached
        on reached.opportunity_id = next_reached.opportunity_id
            and reached.next_stage_order = next_reached.stage_order
    left join days_in_stage
        on reached.opportunity_id = days_in_stage.opportunity_id
            and reached.stage_order = days_in_stage.stage_order
),

aggregated as (
    select
        ladder_stage,
        stage_order,
        fiscal_quarter,
        period_start,
        max(next_stage_order) as next_stage_order,
        count(*) as reached_count,
        cast(sum(case when is_resolved then 1 else 0 end) as {{ dbt.type_bigint() }})
            as resolved_count,
        cast(
            sum(case when is_resolved and has_advanced then 1 else 0 end) as {{ dbt.type_bigint() }}
        )
            as advanced_count,
        cast(sum(case when status = 'won' then 1 else 0 end) as {{ dbt.type_bigint() }})
            as won_count,
        cast(sum(case when status = 'lost' then 1 else 0 end) as {{ dbt.type_bigint() }})
            as lost_count,
        {{ median('days_in_stage') }} as median_days_in_stage
    from deals
    group by 1, 2, 3, 4
),

final as (
    select
        ladder_stage,
        stage_order,
        fiscal_quarter,
        period_start,
        cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 3, 'period_start')) }} as date)
            as period_end,
        reached_count,
        resolved_count,
        case when next_stage_order is not null then advanced_count end as advanced_count,
        won_count,
        lost_count,
        case
            when next_stage_order is not null
                then {{ safe_divide('advanced_count', 'resolved_count') }}
        end as stage_to_next_rate,
        {{ safe_divide('won_count', 'resolved_count') }} as stage_to_won_rate,
        median_days_in_stage,
        {{ as_of_date() }} as as_of_date
    from aggregated
)

select * from final
