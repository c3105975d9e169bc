{#-
    Back-tested forecast accuracy (sales-metrics §11): for every fiscal quarter that ended
    before the as-of date and every checkpoint 1 to 13 weeks before its last day, each method's
    forecast from the pipeline snapshot of that day (fct_pipeline_snapshots, reconstructed or
    captured) against the quarter's actual bookings, at every hierarchy level (dim_reps on the
    as-of date). Closed = won deals closed in the quarter up to the checkpoint; actual = won
    deals closed in the quarter; both credited to the owner at close, open deals to their owner
    at the checkpoint. The conversion method applies the rates learned from the quarters ended
    before the checkpoint (int_forecast_conversion_rates_by_cutoff: out of sample, never its
    own quarter's outcomes); a checkpoint before any quarter ended has no conversion row. The
    statistical method's forecasts come from the
    Python back-test (table forecast.statistical_backtest, the latest run on or before the
    as-of date, when that table exists): each made from the bookings known at the checkpoint
    (closed to date + the historical remaining share x the series forecast of the quarter).
    error = F - A; absolute_percentage_error = |F - A| / |A| (NULL when A = 0);
    bias = (F - A) / A (NULL when A = 0).
-#}

{%- set backtest = none -%}
{%- if var('forecast_statistical_enabled', true) -%}
    {%- set backtest = adapter.get_relation(
            database=target.database, schema='forecast', identifier='statistical_backtest') -%}
{%- endif -%}

with

quarters as (
    select distinct
        fiscal_quarter,
        quarter_start,
        quarter_end
    from {{ ref('int_fiscal_months_spined') }}
    where quarter_end < {{ as_of_date() }}
),

steps as (
    select cast(generated_number as {{ dbt.type_int() }}) as weeks_before_end
    from ({{ dbt.generate_series(13) }}) as series
),

checkpoints as (
    select
        quarters.fiscal_quarter,
        quarters.quarter_start,
        quarters.quarter_end,
        steps.weeks_before_end,
        cast(
            {{ dbt.dateadd('day', '-7 * steps.weeks_before_end', 'quarters.quarter_end') }} as date
        ) as checkpoint_date
    from quarters
    cross join steps
),

measured_checkpoints as (
    -- checkpoints with a snapshot (a day without any open deal has none)
    select checkpoints.*
    from checkpoints
    where checkpoints.checkpoint_date in (
            select snapshots.snapshot_date
            from {{ ref('fct_pipeline_snapshots') }} as snapshots
        )
),

checkpoint_cutoffs as (
    -- the rates a checkpoint may use: those of the last quarter ended before it
    select
        checkpoints.fiscal_quarter,
        checkpoints.weeks_before_end,
        max(ended.quarter_end) as cutoff_date
    from measured_checkpoints as checkpoints
    inner join quarters as ended
        on checkpoints.checkpoint_date > ended.quarter_end
    group by checkpoints.fiscal_quarter, checkpoints.weeks_before_end
),

reps as (
    select * from {{ ref('dim_reps') }}
),

rates as (
    select * from {{ ref('int_forecast_conversion_rates_by_cutoff') }}
),

checkpoint_rates as (
    -- checkpoints with learned rates (a conversion forecast)
    select
        checkpoint_cutoffs.fiscal_quarter,
        checkpoint_cutoffs.weeks_before_end,
        checkpoint_cutoffs.cutoff_date
    from checkpoint_cutoffs
    inner join rates
        on
            checkpoint_cutoffs.cutoff_date = rates.cutoff_date
            and rates.ladder_stage = 'all'
            and rates.age_bucket = 'all'
            and rates.segment = 'all'
),

opportunities as (
    select * from {{ ref('fct_opportunities') }}
),

open_deals as (
    select
        checkpoints.fiscal_quarter,
        checkpoints.weeks_before_end,
        snapshots.owner_rep_id as rep_id,
        snapshots.forecast_category,
        coalesce(snapshots.opportunity_amount, 0) as amount,
        coalesce(snapshots.probability, 0) as probability,
        coalesce(
            cell_rate.conversion_rate,
            stage_rate.conversion_rate,
            overall_rate.conversion_rate,
            0
        ) as conversion_rate
    from measured_checkpoints as checkpoints
    inner join {{ ref('fct_pipeline_snapshots') }} as snapshots
        on
            checkpoints.checkpoint_date = snapshots.snapshot_date
            and snapshots.close_date between checkpoints.quarter_start
            and checkpoints.quarter_end
    left join checkpoint_cutoffs
        on
            checkpoints.fiscal_quarter = checkpoint_cutoffs.fiscal_quarter
            and checkpoints.weeks_before_end = checkpoint_cutoffs.weeks_before_end
    left join opportunities
        on snapshots.opportunity_id = opportunities.opportunity_id
    left join reps
        on snapshots.owner_rep_id = reps.rep_id
    left join rates as cell_rate
        on
            checkpoint_cutoffs.cutoff_date = cell_rate.cutoff_date
            and coalesce(snapshots.ladder_stage, 'unknown') = cell_rate.ladder_stage
            and {{ forecast_age_bucket('opportunities.created_date', 'snapshots.snapshot_date') }}
            = cell_rate.age_bucket
            and coalesce(reps.segment, 'unknown') = cell_rate.segment
            and cell_rate.observation_count >= {{ forecast_min_observations() }}
    left join rates as stage_rate
        on
            checkpoint_cutoffs.cutoff_date = stage_rate.cutoff_date
            and coalesce(snapshots.ladder_stage, 'unknown') = stage_rate.ladder_stage
            and stage_rate.age_bucket = 'all'
            and stage_rate.segment = 'all'
            and stage_rate.observation_count >= {{ forecast_min_observations() }}
    left join rates as overall_rate
        on
            checkpoint_cutoffs.cutoff_date = overall_rate.cutoff_date
            and overall_rate.ladder_stage = 'all'
            and overall_rate.age_bucket = 'all'
            and overall_rate.segment = 'all'
    where snapshots.forecast_category != 'omitted'
),

deal_amounts as (
    select
        fiscal_quarter,
        weeks_before_end,
        rep_id,
        0 as closed_won_amount,
        0 as actual_amount,
        case when forecast_category = 'commit' then amount else 0 end as commit_amount,
        case when forecast_category = 'most_likely' then amount else 0 end as most_likely_amount,
        case when forecast_category = 'best_case' then amount else 0 end as best_case_amount,
        amount * probability as weighted_amount,
        amount * conversion_rate as conversion_amount
    from open_deals
    union all
    select
        checkpoints.fiscal_quarter,
        checkpoints.weeks_before_end,
        won.credited_rep_id as rep_id,
        case
            when won.close_date <= checkpoints.checkpoint_date
                then coalesce(won.opportunity_amount, 0)
            else 0
        end as closed_won_amount,
        coalesce(won.opportunity_amount, 0) as actual_amount,
        0 as commit_amount,
        0 as most_likely_amount,
        0 as best_case_amount,
        0 as weighted_amount,
        0 as conversion_amount
    from measured_checkpoints as checkpoints
    inner join opportunities as won
        on won.close_date between checkpoints.quarter_start and checkpoints.quarter_end
    where won.status = 'won'
),

deal_amounts_placed as (
    -- each rep's place in the hierarchy on the as-of date
    select
        deal_amounts.*,
        reps.manager_id,
        reps.team,
        reps.region
    from deal_amounts
    left join reps
        on deal_amounts.rep_id = reps.rep_id
),

leveled as (
    {{ rollup_levels('deal_amounts_placed') }}
),

aggregated as (
    select
        leveled.fiscal_quarter,
        leveled.weeks_before_end,
        leveled.level,
        leveled.entity_id,
        sum(leveled.actual_amount) as actual_amount,
        sum(leveled.closed_won_amount + leveled.commit_amount) as commit_forecast,
        sum(leveled.closed_won_amount + leveled.commit_amount + leveled.most_likely_amount)
            as most_likely_forecast,
        sum(
            leveled.closed_won_amount + leveled.commit_amount + leveled.most_likely_amount
            + leveled.best_case_amount
        ) as best_case_forecast,
        sum(leveled.closed_won_amount + leveled.weighted_amount) as weighted_forecast,
        -- NULL (no row) when no quarter had ended before the checkpoint: no rates learned yet
        case
            when max(checkpoint_rates.cutoff_date) is not null
                then sum(leveled.closed_won_amount + leveled.conversion_amount)
        end as conversion_forecast
    from leveled
    left join checkpoint_rates
        on
            leveled.fiscal_quarter = checkpoint_rates.fiscal_quarter
            and leveled.weeks_before_end = checkpoint_rates.weeks_before_end
    group by leveled.fiscal_quarter, leveled.weeks_before_end, leveled.level, leveled.entity_id
),

forecast_methods as (
    {%- for method in ['commit', 'most_likely', 'best_case', 'weighted', 'conversion'] %}
    select '{{ method }}' as method -- noqa: RF04
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

rule_methods as (
    -- one row per rule-based method, crossed rather than unioned (Spark would recompute
    -- `aggregated` for each select of a union)
    select
        aggregated.fiscal_quarter,
        aggregated.level,
        aggregated.entity_id,
        forecast_methods.method,
        aggregated.weeks_before_end,
        case forecast_methods.method
            {%- for method in ['commit', 'most_likely', 'best_case', 'weighted', 'conversion'] %}
            when '{{ method }}' then aggregated.{{ method }}_forecast
            {%- endfor %}
        end as forecast_amount,
        aggregated.actual_amount
    from aggregated
    cross join forecast_methods
),

methods as (
    select *
    from rule_methods
    where forecast_amount is not null
    {% if backtest is not none %}
    union all
    select
        statistical.fiscal_quarter,
        statistical.level,
        statistical.entity_id,
        'statistical' as method, -- noqa: RF04
        statistical.weeks_before_end,
        statistical.forecast_amount,
        -- an entity without any deal at the checkpoint has no aggregated row: it booked 0
        coalesce(aggregated.actual_amount, 0) as actual_amount
    from {{ backtest }} as statistical
    inner join measured_checkpoints as checkpoints
        on
            statistical.fiscal_quarter = checkpoints.fiscal_quarter
            and statistical.weeks_before_end = checkpoints.weeks_before_end
    left join aggregated
        on
            statistical.fiscal_quarter = aggregated.fiscal_quarter
            and statistical.weeks_before_end = aggregated.weeks_before_end
            and statistical.level = aggregated.level
            and statistical.entity_id = aggregated.entity_id
    where statistical.as_of_date = (
            select max(runs.as_of_date)
            from {{ backtest }} as runs
            where runs.as_of_date <= {{ as_of_date() }}
        )
    {% endif %}
),

final as (
    select
        {{ dbt.hash(dbt.concat(["fiscal_quarter", "'|'", "level", "'|'", "entity_id", "'|'",
                                "method", "'|'",
                                dbt.cast("weeks_before_end", dbt.type_string())])) }}
            as forecast_accuracy_id,
        fiscal_quarter,
        level,
        entity_id,
        method,
        weeks_before_end,
        forecast_amount,
        actual_amount,
        forecast_amount - actual_amount as error_amount,
        abs(forecast_amount - actual_amount)
        / nullif(abs(actual_amount), 0) as absolute_percentage_error,
        (forecast_amount - actual_amount) / nullif(actual_amount, 0) as bias
    from methods
)

select * from final
