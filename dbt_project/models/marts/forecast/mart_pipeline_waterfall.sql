{#-
    Weekly pipeline waterfall per fiscal quarter: open pipeline (open, not omitted) closing in
    the quarter, from the snapshot at the end of the day before the week starts to the snapshot
    at the end of the week's last day (weeks start on the quarter's first day; the last week
    ends on the quarter's last day). Every amount converts at the quarter's first-day rate
    (sales-metrics §12), so currency moves never show up as movement.

    Each opportunity in the starting or ending pipeline lands in exactly one way:
    in both: increased or decreased by the amount change (ending - starting);
    only at the start (its starting amount leaves): deleted (no longer in the CRM), won or lost
    (closed by the week's end), pushed_out (close date moved out of the quarter, whether or not
    it also became omitted), into_omitted (still closing in the quarter, now omitted);
    only at the end (its ending amount enters): created (did not exist at the start), reopened
    (closed at the start), pulled_in (close date moved into the quarter), out_of_omitted.
    So starting + created + reopened + pulled_in - pushed_out + increased - decreased
    - into_omitted + out_of_omitted - deleted - won - lost = ending, with no residual.
    Only weeks whose last day is on or before the as-of date appear.
-#}

with

quarters as (
    select distinct
        fiscal_quarter,
        quarter_start,
        quarter_end
    from {{ ref('int_fiscal_months_spined') }}
),

steps as (
    select cast(generated_number - 1 as {{ dbt.type_int() }}) as week_number
    from ({{ dbt.generate_series(14) }}) as series
),

snapshot_days as (
    -- dates with a snapshot, and reconstructed dates before the first capture whose pipeline
    -- was empty (no rows)
    select distinct snapshot_date from {{ ref('fct_pipeline_snapshots') }}
    union
    select reconstructed.snapshot_date
    from {{ ref('int_forecast_snapshot_dates') }} as reconstructed
    where reconstructed.snapshot_date < (
            select min(captured.snapshot_date)
            from {{ ref('fct_pipeline_snapshots') }} as captured
            where captured.snapshot_source = 'captured'
        )
),

weeks as (
    select
        quarters.fiscal_quarter,
        quarters.quarter_start,
        quarters.quarter_end,
        cast({{ dbt.dateadd('day', '7 * steps.week_number', 'quarters.quarter_start') }} as date)
            as week_start
    from quarters
    cross join steps
),

bounded as (
    select
        weeks.fiscal_quarter,
        weeks.quarter_start,
        weeks.quarter_end,
        weeks.week_start,
        cast({{ dbt.dateadd('day', -1, 'weeks.week_start') }} as date) as starting_date,
        case
            when {{ dbt.dateadd('day', 6, 'weeks.week_start') }} > weeks.quarter_end
                then weeks.quarter_end
            else cast({{ dbt.dateadd('day', 6, 'weeks.week_start') }} as date)
        end as ending_date
    from weeks
    where weeks.week_start <= weeks.quarter_end
),

measured_weeks as (
    -- both boundary snapshots exist
    select bounded.*
    from bounded
    inner join snapshot_days as starting_day
        on bounded.starting_date = starting_day.snapshot_date
    inner join snapshot_days as ending_day
        on bounded.ending_date = ending_day.snapshot_date
    where bounded.ending_date <= {{ as_of_date() }}
),

snapshots as (
    select
        snapshots.snapshot_date,
        snapshots.opportunity_id,
        snapshots.forecast_category,
        snapshots.close_date,
        snapshots.original_amount,
        snapshots.currency_code
    from {{ ref('fct_pipeline_snapshots') }} as snapshots
),

starting_rows as (
    select
        measured_weeks.fiscal_quarter,
        measured_weeks.week_start,
        snapshots.opportunity_id,
        snapshots.close_date between measured_weeks.quarter_start
        and measured_weeks.quarter_end as is_closing_in_quarter,
        snapshots.forecast_category = 'omitted' as is_omitted,
        {{ converted_amount('coalesce(snapshots.original_amount, 0)', 'snapshots.currency_code') }}
            as amount
    from measured_weeks
    inner join snapshots
        on measured_weeks.starting_date = snapshots.snapshot_date
    {{ convert_currency_joins('snapshots.currency_code', 'measured_weeks.quarter_start') }}
),

ending_rows as (
    select
        measured_weeks.fiscal_quarter,
        measured_weeks.week_start,
        snapshots.opportunity_id,
        snapshots.close_date between measured_weeks.quarter_start
        and measured_weeks.quarter_end as is_closing_in_quarter,
        snapshots.forecast_category = 'omitted' as is_omitted,
        {{ converted_amount('coalesce(snapshots.original_amount, 0)', 'snapshots.currency_code') }}
            as amount
    from measured_weeks
    inner join snapshots
        on measured_weeks.ending_date = snapshots.snapshot_date
    {{ convert_currency_joins('snapshots.currency_code', 'measured_weeks.quarter_start') }}
),

paired as (
    select
        coalesce(starting_rows.fiscal_quarter, ending_rows.fiscal_quarter) as fiscal_quarter,
        coalesce(starting_rows.week_start, ending_rows.week_start) as week_start,
        coalesce(starting_rows.opportunity_id, ending_rows.opportunity_id) as opportunity_id,
        starting_rows.opportunity_id is not null as is_open_at_start,
        ending_rows.opportunity_id is not null as is_open_at_end,
        coalesce(
            starting_rows.is_closing_in_quarter and not starting_rows.is_omitted, false
        ) as is_in_starting,
        coalesce(
            ending_rows.is_closing_in_quarter and not ending_rows.is_omitted, false
        ) as is_in_ending,
        coalesce(starting_rows.is_closing_in_quarter, false) as is_closing_at_start,
        coalesce(ending_rows.is_closing_in_quarter, false) as is_closing_at_end,
        coalesce(starting_rows.amount, 0) as starting_amount,
        coalesce(ending_rows.amount, 0) as ending_amount
    from starting_rows
    full outer join ending_rows
        on
            starting_rows.fiscal_quarter = ending_rows.fiscal_quarter
            and starting_rows.week_start = ending_rows.week_start
            and starting_rows.opportunity_id = ending_rows.opportunity_id
),

moved as (
    select
        paired.*,
        cast(
            {{ dbt.dateadd('day', 1, 'measured_weeks.starting_date') }}
            as {{ dbt.type_timestamp() }}
        ) as starting_instant,
        cast(
            {{ dbt.dateadd('day', 1, 'measured_weeks.ending_date') }} as {{ dbt.type_timestamp() }}
        ) as ending_instant
    from paired
    inner join measured_weeks
        on
            paired.fiscal_quarter = measured_weeks.fiscal_quarter
            and paired.week_start = measured_weeks.week_start
    where paired.is_in_starting or paired.is_in_ending
),

states as (
    select
        opportunity_id,
        valid_from,
        valid_to,
        status
    from {{ ref('fct_opportunity_states') }}
),

opportunities_in_crm as (
    select distinct opportunity_id from states
),

classified as (
    -- the state just before the instant after each boundary day (end of that day)
    select
        moved.*,
        ending_state.status as ending_status,
        starting_state.status as starting_status,
        in_crm.opportunity_id is not null as is_in_crm
    from moved
    left join states as ending_state
        on
            moved.opportunity_id = ending_state.opportunity_id
            and moved.ending_instant > ending_state.valid_from
            and (moved.ending_instant <= ending_state.valid_to or ending_state.valid_to is null)
    left join states as starting_state
        on
            moved.opportunity_id = starting_state.opportunity_id
            and moved.starting_instant > starting_state.valid_from
            and (
                moved.starting_instant <= starting_state.valid_to
                or starting_state.valid_to is null
            )
    left join opportunities_in_crm as in_crm
        on moved.opportunity_id = in_crm.opportunity_id
),

bucketed as (
    select
        fiscal_quarter,
        week_start,
        case when is_in_starting then starting_amount else 0 end as starting_pipeline_amount,
        case when is_in_ending then ending_amount else 0 end as ending_pipeline_amount,
        case
            when is_in_ending and not is_in_starting and not is_open_at_start
                and starting_status is null
                then ending_amount
            else 0
        end as created_amount,
        case
            when is_in_ending and not is_in_starting and not is_open_at_start
                and starting_status is not null
                then ending_amount
            else 0
        end as reopened_amount,
        case
            when is_in_ending and not is_in_starting and is_open_at_start
                and not is_closing_at_start
                then ending_amount
            else 0
        end as pulled_in_amount,
        case
            when is_in_ending and not is_in_starting and is_open_at_start and is_closing_at_start
                then ending_amount
            else 0
        end as out_of_omitted_amount,
        case
            when is_in_starting and not is_in_ending and is_open_at_end and not is_closing_at_end
                then starting_amount
            else 0
        end as pushed_out_amount,
        case
            when is_in_starting and not is_in_ending and is_open_at_end and is_closing_at_end
                then starting_amount
            else 0
        end as into_omitted_amount,
        case
            when is_in_starting and not is_in_ending and not is_open_at_end and not is_in_crm
                then starting_amount
            else 0
        end as deleted_amount,
        case
            when is_in_starting and not is_in_ending and not is_open_at_end and is_in_crm
                and ending_status = 'won'
                then starting_amount
            else 0
        end as won_amount,
        case
            when is_in_starting and not is_in_ending and not is_open_at_end and is_in_crm
                and coalesce(ending_status, 'lost') != 'won'
                then starting_amount
            else 0
        end as lost_amount,
        case
            when is_in_starting and is_in_ending and ending_amount > starting_amount
                then ending_amount - starting_amount
            else 0
        end as increased_amount,
        case
            when is_in_starting and is_in_ending and ending_amount < starting_amount
                then starting_amount - ending_amount
            else 0
        end as decreased_amount
    from classified
),

aggregated as (
    select
        measured_weeks.fiscal_quarter,
        measured_weeks.week_start,
        measured_weeks.ending_date as week_end,
        {%- for bucket in ['starting_pipeline', 'created', 'reopened', 'pulled_in', 'pushed_out',
                           'increased', 'decreased', 'into_omitted', 'out_of_omitted',
                           'deleted', 'won', 'lost', 'ending_pipeline'] %}
        coalesce(sum(bucketed.{{ bucket }}_amount), 0) as {{ bucket }}_amount
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from measured_weeks
    left join bucketed
        on
            measured_weeks.fiscal_quarter = bucketed.fiscal_quarter
            and measured_weeks.week_start = bucketed.week_start
    group by measured_weeks.fiscal_quarter, measured_weeks.week_start, measured_weeks.ending_date
)

select * from aggregated
