{{ config(materialized='table') }}

{#-
    Every opportunity open at the end of each fiscal month (or at the as-of date for the current
    month), read from fct_opportunity_states: the state valid at the last instant of that day.
    Amounts convert at the rate in force on min(close date, snapshot date) (sales-metrics §12).
    Feeds open pipeline and the qualified-opportunity count of mart_sales_kpis.
-#}

with

states as (
    select * from {{ ref('fct_opportunity_states') }}
),

snapshot_points as (
    select
        fiscal_month,
        fiscal_quarter,
        period_start,
        period_end,
        quarter_start,
        quarter_end,
        case
            when period_end < {{ as_of_date() }} then period_end else {{ as_of_date() }}
        end as snapshot_date
    from {{ ref('int_fiscal_months_spined') }}
    where period_start <= {{ as_of_date() }}
        and period_end >= (select cast(min(states.valid_from) as date) from states)
),

snapshot_instants as (
    select
        *,
        cast({{ dbt.dateadd('day', 1, 'snapshot_date') }} as {{ dbt.type_timestamp() }})
            as snapshot_end_at
    from snapshot_points
),

open_states as (
    select
        points.fiscal_month,
        points.fiscal_quarter,
        points.period_start,
        points.period_end,
        points.quarter_start,
        points.quarter_end,
        points.snapshot_date,
        states.opportunity_id,
        states.owner_rep_id,
        states.stage_name,
        states.ladder_stage,
        states.stage_order,
        states.forecast_category,
        states.probability,
        states.close_date,
        states.original_amount,
        states.currency_code,
        states.source_system
    from states
    inner join snapshot_instants as points
        on states.valid_from < points.snapshot_end_at
            and (states.valid_to is null or states.valid_to >= points.snapshot_end_at)
    where states.status = 'open'
),

converted as (
    select
        open_states.*,
        {{ converted_amount('open_states.original_amount', 'open_states.currency_code') }}
            as opportunity_amount,
        open_states.close_date between open_states.quarter_start and open_states.quarter_end
            as is_closing_in_quarter
    from open_states
    {{ convert_currency_joins(
        'open_states.currency_code',
        'case when open_states.close_date < open_states.snapshot_date'
        ~ ' then open_states.close_date else open_states.snapshot_date end'
    ) }}
)

select * from converted
