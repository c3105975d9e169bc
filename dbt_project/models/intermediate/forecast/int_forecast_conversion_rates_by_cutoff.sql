{#-
    Historical stage-to-close rates (sales-metrics §11) learned from the org's own snapshots,
    as they could have been learned at the end of each ended fiscal quarter (cutoff_date = its
    last day). Every deal open and not omitted on a snapshot date of an ended quarter, with its
    close date in that quarter, is one observation; it converts if the deal was won with its
    close date in that quarter. A cutoff counts the observations of quarters ended on or before
    it, so a back-test at a checkpoint applies the rates of the last quarter ended before it and
    never the outcomes of its own quarter; the last cutoff is what the forecast applies today
    (int_forecast_conversion_rates).

    Rates per ladder stage x age bucket (days since creation on the snapshot date) x the
    owner's segment, plus one row per ladder stage with age_bucket and segment 'all' (the
    fallback for thin cells) and one 'all'/'all'/'all' row.
-#}

with

quarters as (
    select distinct
        fiscal_quarter,
        quarter_start,
        quarter_end
    from {{ ref('int_fiscal_months_spined') }}
    where quarter_end < {{ as_of_date() }}
),

observations as (
    select
        quarters.quarter_end as observed_quarter_end,
        coalesce(snapshots.ladder_stage, 'unknown') as ladder_stage,
        {{ forecast_age_bucket('opportunities.created_date', 'snapshots.snapshot_date') }}
            as age_bucket,
        coalesce(reps.segment, 'unknown') as segment,
        case
            when
                opportunities.status = 'won'
                and opportunities.close_date between quarters.quarter_start
                and quarters.quarter_end
                then 1
            else 0
        end as is_converted
    from {{ ref('fct_pipeline_snapshots') }} as snapshots
    inner join quarters
        on snapshots.snapshot_date between quarters.quarter_start and quarters.quarter_end
    left join {{ ref('fct_opportunities') }} as opportunities
        on snapshots.opportunity_id = opportunities.opportunity_id
    left join {{ ref('dim_reps') }} as reps
        on snapshots.owner_rep_id = reps.rep_id
    where
        snapshots.snapshot_date < {{ as_of_date() }}
        and snapshots.forecast_category != 'omitted'
        and snapshots.close_date between quarters.quarter_start and quarters.quarter_end
),

windowed as (
    select
        cutoffs.quarter_end as cutoff_date,
        observations.ladder_stage,
        observations.age_bucket,
        observations.segment,
        observations.is_converted
    from quarters as cutoffs
    inner join observations
        on cutoffs.quarter_end >= observations.observed_quarter_end
),

by_cell as (
    select
        cutoff_date,
        ladder_stage,
        age_bucket,
        segment,
        count(*) as observation_count,
        sum(is_converted) as converted_count
    from windowed
    group by cutoff_date, ladder_stage, age_bucket, segment
),

by_stage as (
    select
        cutoff_date,
        ladder_stage,
        'all' as age_bucket,
        'all' as segment,
        count(*) as observation_count,
        sum(is_converted) as converted_count
    from windowed
    group by cutoff_date, ladder_stage
),

overall as (
    select
        cutoff_date,
        'all' as ladder_stage,
        'all' as age_bucket,
        'all' as segment,
        count(*) as observation_count,
        sum(is_converted) as converted_count
    from windowed
    group by cutoff_date
),

unioned as (
    select * from by_cell
    union all
    select * from by_stage
    union all
    select * from overall
)

select
    cutoff_date,
    ladder_stage,
    age_bucket,
    segment,
    observation_count,
    converted_count,
    cast(converted_count as {{ type_double() }})
    / nullif(observation_count, 0) as conversion_rate
from unioned
