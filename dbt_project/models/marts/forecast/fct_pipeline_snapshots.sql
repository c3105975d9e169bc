{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='snapshot_date',
        full_refresh=false,
        on_schema_change='fail',
    )
}}

{#-
    Open opportunities at the end of each snapshot date (sales-metrics §2, §12), append-only.

    First build: every date of int_forecast_snapshot_dates is reconstructed from
    fct_opportunity_states (the state valid at the end of the day), except the as-of date,
    which is captured from the current state (fct_opportunities) exactly as every later
    nightly run does. Incremental runs (full_refresh: false, so history the CRM does not keep
    survives a --full-refresh) capture only the as-of date, replacing an earlier capture of the
    same date; past dates are never touched. Amounts convert at the snapshot date's rate.
-#}

with

{% if not is_incremental() %}
reconstructed as (
    select
        dates.snapshot_date,
        states.opportunity_id,
        states.owner_rep_id,
        states.stage_name,
        states.ladder_stage,
        states.forecast_category,
        states.probability,
        states.original_amount,
        states.currency_code,
        states.close_date,
        'reconstructed' as snapshot_source
    from {{ ref('int_forecast_snapshot_dates') }} as dates
    inner join {{ ref('fct_opportunity_states') }} as states
        on
            states.valid_from < cast(
                {{ dbt.dateadd('day', 1, 'dates.snapshot_date') }}
                as {{ dbt.type_timestamp() }}
            )
            and (
                states.valid_to is null
                or states.valid_to >= cast(
                    {{ dbt.dateadd('day', 1, 'dates.snapshot_date') }}
                    as {{ dbt.type_timestamp() }}
                )
            )
    where
        states.status = 'open'
        and dates.snapshot_date < {{ as_of_date() }}
),
{% endif %}

captured as (
    select
        {{ as_of_date() }} as snapshot_date,
        opportunities.opportunity_id,
        opportunities.owner_rep_id,
        opportunities.stage_name,
        opportunities.ladder_stage,
        opportunities.forecast_category,
        opportunities.probability,
        opportunities.original_amount,
        opportunities.currency_code,
        opportunities.close_date,
        'captured' as snapshot_source
    from {{ ref('fct_opportunities') }} as opportunities
    where opportunities.status = 'open'
),

unioned as (
    {% if not is_incremental() %}
    select * from reconstructed
    union all
    {% endif %}
    select * from captured
),

converted as (
    select
        unioned.*,
        {{ converted_amount('unioned.original_amount', 'unioned.currency_code') }}
            as opportunity_amount
    from unioned
    {{ convert_currency_joins('unioned.currency_code', 'unioned.snapshot_date') }}
),

final as (
    select
        {{ dbt.hash(dbt.concat([dbt.cast("snapshot_date", dbt.type_string()), "'|'",
                                "opportunity_id"])) }} as pipeline_snapshot_id,
        cast(snapshot_date as date) as snapshot_date,
        opportunity_id,
        owner_rep_id,
        stage_name,
        ladder_stage,
        forecast_category,
        probability,
        original_amount,
        currency_code,
        opportunity_amount,
        close_date,
        {{ fiscal_quarter_label('close_date') }} as fiscal_quarter_closing,
        snapshot_source
    from converted
)

select * from final
