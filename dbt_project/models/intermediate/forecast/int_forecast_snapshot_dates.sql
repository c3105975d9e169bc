{{ config(materialized='table') }}

{#-
    The dates whose end-of-day pipeline fct_pipeline_snapshots reconstructs from the state
    history: for every fiscal quarter from the first recorded state to the as-of date, the day
    before each week of the quarter starts (quarter_start - 1 + 7k), the quarter's last day, and
    the quarter end minus 1..13 weeks (forecast checkpoints); plus the as-of date. Days after the
    as-of date are never included.
-#}

with

quarters as (
    select distinct
        fiscal_quarter,
        quarter_start,
        quarter_end
    from {{ ref('int_fiscal_months_spined') }}
    where
        quarter_start <= {{ as_of_date() }}
        and quarter_end >= (
            select cast(min(states.valid_from) as date)
            from {{ ref('fct_opportunity_states') }} as states
        )
),

steps as (
    select cast(generated_number - 1 as {{ dbt.type_int() }}) as week_number
    from ({{ dbt.generate_series(14) }}) as series
),

candidates as (
    select
        quarters.fiscal_quarter,
        cast(
            {{ dbt.dateadd('day', '7 * steps.week_number - 1', 'quarters.quarter_start') }} as date
        ) as snapshot_date,
        quarters.quarter_end
    from quarters
    cross join steps
    union all
    select
        quarters.fiscal_quarter,
        cast({{ dbt.dateadd('day', '-7 * steps.week_number', 'quarters.quarter_end') }} as date)
            as snapshot_date,
        quarters.quarter_end
    from quarters
    cross join steps
),

final as (
    select distinct snapshot_date
    from candidates
    where snapshot_date <= quarter_end and snapshot_date <= {{ as_of_date() }}
    union
    select {{ as_of_date() }} as snapshot_date
)

select snapshot_date from final
