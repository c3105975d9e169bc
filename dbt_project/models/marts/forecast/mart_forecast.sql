{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='as_of_date',
        on_schema_change='fail',
    )
}}

{#-
    The forecast as of the as-of date for the current and the next fiscal quarter at every
    hierarchy level (rep, manager, team, region, company; the hierarchy of dim_reps on the
    as-of date), one set of rows per as-of date kept forever (incremental, delete+insert by
    as_of_date: a rerun of a night replaces that night only).

    Open deals come from the as-of date's pipeline snapshot (open, closing in the quarter,
    at the snapshot date's rate); closed won from fct_opportunities (won, closed in the quarter
    up to the as-of date, credited to the owner at close). Category amounts are open deals in
    exactly that category (sales-metrics §3); the forecast_* rollups are cumulative; omitted
    never counts in any forecast. The conversion forecast applies int_forecast_conversion_rates
    (stage x age bucket x segment, the stage's rate when the cell holds fewer than
    var forecast_conversion_min_observations observations). The statistical columns come from
    the latest run of the Python statistical forecast (table forecast.statistical_forecasts)
    on or before the as-of date, when that table exists.
-#}

{%- set statistical = none -%}
{%- if var('forecast_statistical_enabled', true) -%}
    {%- set statistical = adapter.get_relation(
            database=target.database, schema='forecast', identifier='statistical_forecasts') -%}
{%- endif -%}

with

quarters as (
    select distinct
        fiscal_quarter,
        quarter_start,
        quarter_end
    from {{ ref('int_fiscal_months_spined') }}
    where
        quarter_start = {{ fiscal_period_start('quarter', as_of_date()) }}
        or quarter_start
        = cast({{ dbt.dateadd('month', 3, fiscal_period_start('quarter', as_of_date())) }} as date)
),

reps as (
    select * from {{ ref('dim_reps') }}
),

rates as (
    select * from {{ ref('int_forecast_conversion_rates') }}
),

open_deals as (
    select
        quarters.fiscal_quarter,
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
    from {{ ref('fct_pipeline_snapshots') }} as snapshots
    inner join quarters
        on snapshots.close_date between quarters.quarter_start and quarters.quarter_end
    left join {{ ref('fct_opportunities') }} as opportunities
        on snapshots.opportunity_id = opportunities.opportunity_id
    left join reps
        on snapshots.owner_rep_id = reps.rep_id
    left join rates as cell_rate
        on
            coalesce(snapshots.ladder_stage, 'unknown') = cell_rate.ladder_stage
            and {{ forecast_age_bucket('opportunities.created_date', 'snapshots.snapshot_date') }}
            = cell_rate.age_bucket
            and coalesce(reps.segment, 'unknown') = cell_rate.segment
            and cell_rate.observation_count >= {{ forecast_min_observations() }}
    left join rates as stage_rate
        on
            coalesce(snapshots.ladder_stage, 'unknown') = stage_rate.ladder_stage
            and stage_rate.age_bucket = 'all'
            and stage_rate.segment = 'all'
            and stage_rate.observation_count >= {{ forecast_min_observations() }}
    left join rates as overall_rate
        on
            overall_rate.ladder_stage = 'all'
            and overall_rate.age_bucket = 'all'
            and overall_rate.segment = 'all'
    where snapshots.snapshot_date = {{ as_of_date() }}
),

deal_amounts as (
    select
        fiscal_quarter,
        rep_id,
        0 as closed_won_amount,
        case when forecast_category = 'commit' then amount else 0 end as commit_amount,
        case when forecast_category = 'most_likely' then amount else 0 end as most_likely_amount,
        case when forecast_category = 'best_case' then amount else 0 end as best_case_amount,
        case when forecast_category = 'pipeline' then amount else 0 end as pipeline_amount,
        case when forecast_category = 'omitted' then amount else 0 end as omitted_amount,
        case when forecast_category != 'omitted' then amount * probability else 0 end
            as weighted_pipeline_amount,
        case when forecast_category != 'omitted' then amount * conversion_rate else 0 end
            as conversion_pipeline_amount
    from open_deals
    union all
    select
        quarters.fiscal_quarter,
        won.credited_rep_id as rep_id,
        coalesce(won.opportunity_amount, 0) as closed_won_amount,
        0 as commit_amount,
        0 as most_likely_amount,
        0 as best_case_amount,
        0 as pipeline_amount,
        0 as omitted_amount,
        0 as weighted_pipeline_amount,
        0 as conversion_pipeline_amount
    from {{ ref('fct_opportunities') }} as won
    inner join quarters
        on won.close_date between quarters.quarter_start and quarters.quarter_end
    where won.status = 'won' and won.close_date <= {{ as_of_date() }}
),

quotas as (
    select
        quotas.rep_id,
        quotas.fiscal_quarter,
        0 as closed_won_amount,
        quotas.quota_amount
    from {{ ref('int_quotas_aggregated_quarterly') }} as quotas
    inner join quarters
        on quotas.fiscal_quarter = quarters.fiscal_quarter
),

rep_rows as (
    -- every rep with a deal or a quota in the quarter
    select
        coalesce(deals.fiscal_quarter, quotas.fiscal_quarter) as fiscal_quarter,
        coalesce(deals.rep_id, quotas.rep_id) as rep_id,
        quotas.quota_amount,
        coalesce(deals.closed_won_amount, 0) as closed_won_amount,
        coalesce(deals.commit_amount, 0) as commit_amount,
        coalesce(deals.most_likely_amount, 0) as most_likely_amount,
        coalesce(deals.best_case_amount, 0) as best_case_amount,
        coalesce(deals.pipeline_amount, 0) as pipeline_amount,
        coalesce(deals.omitted_amount, 0) as omitted_amount,
        coalesce(deals.weighted_pipeline_amount, 0) as weighted_pipeline_amount,
        coalesce(deals.conversion_pipeline_amount, 0) as conversion_pipeline_amount
    from (
        select
            fiscal_quarter,
            rep_id,
            sum(closed_won_amount) as closed_won_amount,
            sum(commit_amount) as commit_amount,
            sum(most_likely_amount) as most_likely_amount,
            sum(best_case_amount) as best_case_amount,
            sum(pipeline_amount) as pipeline_amount,
            sum(omitted_amount) as omitted_amount,
            sum(weighted_pipeline_amount) as weighted_pipeline_amount,
            sum(conversion_pipeline_amount) as conversion_pipeline_amount
        from deal_amounts
        group by fiscal_quarter, rep_id
    ) as deals
    full outer join quotas
        on deals.fiscal_quarter = quotas.fiscal_quarter and deals.rep_id = quotas.rep_id
),

rep_rows_placed as (
    -- each rep's place in the hierarchy on the as-of date
    select
        rep_rows.*,
        reps.manager_id,
        reps.team,
        reps.region
    from rep_rows
    left join reps
        on rep_rows.rep_id = reps.rep_id
),

leveled as (
    {{ rollup_levels('rep_rows_placed') }}
),

aggregated as (
    select
        fiscal_quarter,
        level,
        entity_id,
        sum(quota_amount) as quota_amount,
        sum(closed_won_amount) as closed_won_amount,
        sum(commit_amount) as commit_amount,
        sum(most_likely_amount) as most_likely_amount,
        sum(best_case_amount) as best_case_amount,
        sum(pipeline_amount) as pipeline_amount,
        sum(omitted_amount) as omitted_amount,
        sum(weighted_pipeline_amount) as weighted_pipeline_amount,
        sum(conversion_pipeline_amount) as conversion_pipeline_amount
    from leveled
    group by fiscal_quarter, level, entity_id
),

{% if statistical is not none %}
statistical_runs as (
    select
        fiscal_quarter,
        level,
        entity_id,
        forecast_amount,
        low_amount,
        high_amount,
        row_number() over (
            partition by fiscal_quarter, level, entity_id order by as_of_date desc
        ) as run_rank
    from {{ statistical }}
    where as_of_date <= {{ as_of_date() }}
),
{% else %}
statistical_runs as (
    select
        cast(null as {{ dbt.type_string() }}) as fiscal_quarter,
        cast(null as {{ dbt.type_string() }}) as level, -- noqa: RF04
        cast(null as {{ dbt.type_string() }}) as entity_id,
        cast(null as {{ type_double() }}) as forecast_amount,
        cast(null as {{ type_double() }}) as low_amount,
        cast(null as {{ type_double() }}) as high_amount,
        1 as run_rank
    {{ empty_relation_filter() }}
),
{% endif %}

final as (
    select
        {{ dbt.hash(dbt.concat([dbt.cast(as_of_date(), dbt.type_string()), "'|'",
                                "aggregated.fiscal_quarter", "'|'", "aggregated.level",
                                "'|'", "aggregated.entity_id"])) }} as forecast_id,
        {{ as_of_date() }} as as_of_date,
        aggregated.fiscal_quarter,
        aggregated.level,
        aggregated.entity_id,
        aggregated.quota_amount,
        aggregated.closed_won_amount,
        aggregated.commit_amount,
        aggregated.most_likely_amount,
        aggregated.best_case_amount,
        aggregated.pipeline_amount,
        aggregated.omitted_amount,
        aggregated.weighted_pipeline_amount,
        aggregated.closed_won_amount + aggregated.commit_amount as forecast_commit_amount,
        aggregated.closed_won_amount + aggregated.commit_amount
        + aggregated.most_likely_amount as forecast_most_likely_amount,
        aggregated.closed_won_amount + aggregated.commit_amount + aggregated.most_likely_amount
        + aggregated.best_case_amount as forecast_best_case_amount,
        aggregated.closed_won_amount
        + aggregated.weighted_pipeline_amount as forecast_weighted_amount,
        aggregated.closed_won_amount
        + aggregated.conversion_pipeline_amount as forecast_conversion_amount,
        statistical.forecast_amount as forecast_statistical_amount,
        statistical.low_amount as forecast_statistical_low_amount,
        statistical.high_amount as forecast_statistical_high_amount
    from aggregated
    left join statistical_runs as statistical
        on
            aggregated.fiscal_quarter = statistical.fiscal_quarter
            and aggregated.level = statistical.level
            and aggregated.entity_id = statistical.entity_id
            and statistical.run_rank = 1
)

select * from final
