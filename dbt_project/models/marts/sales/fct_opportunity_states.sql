{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='opportunity_id',
        on_schema_change='fail',
        post_hook="{{ delete_missing_keys('opportunity_id', ref('int_opportunities_unioned')) }}",
    )
}}

-- depends_on: {{ ref('int_opportunities_unioned') }}

{#
    Validity intervals [valid_from, valid_to) of each opportunity's state (stage, status,
    forecast category, probability, amount, close date, owner), reconstructed by replaying
    int_opportunity_events_unioned: each attribute keeps the value of the last event that set
    it, and the first known value of each attribute also holds before it was first recorded.
    Consecutive identical states collapse; the first state is extended back to creation.
    The state at instant t: valid_from <= t and (valid_to is null or t < valid_to).

    Incremental: opportunities with events loaded since the last run are recomputed whole
    (delete+insert by opportunity_id); opportunities that disappeared upstream are deleted.
#}

{%- set attributes = ['stage', 'amount', 'close_date', 'probability', 'forecast_category',
                      'owner', 'currency'] -%}

with

events as (
    select * from {{ ref('int_opportunity_events_unioned') }}
),

{% if is_incremental() %}
changed_opportunities as (
    select opportunity_id
    from events
    where _loaded_at >= {{ incremental_since('loaded_at') }}
    union
    -- opportunities (again) valid without a new load, e.g. after a full refresh upstream
    select opportunities.opportunity_id
    from {{ ref('int_opportunities_unioned') }} as opportunities
    where opportunities.opportunity_id not in (
            select previous_states.opportunity_id
            from {{ this }} as previous_states
        )
),
{% endif %}

scoped_events as (
    select *
    from events
    {% if is_incremental() %}
    where opportunity_id in (
            select changed.opportunity_id
            from changed_opportunities as changed
        )
    {% endif %}
),

sequenced as (
    select
        *,
        {%- for attribute in attributes %}
        sum(case when sets_{{ attribute }} then 1 else 0 end) over (
            partition by opportunity_id
            order by event_at, event_priority, event_key
            rows between unbounded preceding and current row
        ) as {{ attribute }}_group,
        {%- endfor %}
        row_number() over (
            partition by opportunity_id order by event_at, event_priority, event_key
        ) as event_number,
        max(_loaded_at) over (partition by opportunity_id) as loaded_at
    from scoped_events
),

replayed as (
    -- Within a group only its first row sets the attribute; max() picks that value. Before an
    -- attribute's first recorded value (group 0) the first known value applies: the first known
    -- state extends back to the creation.
    select
        opportunity_id,
        source_system,
        pipeline_id,
        opportunity_created_at,
        current_currency_code,
        loaded_at,
        event_at,
        event_number,
        {%- for attribute, column in [
            ('stage', 'stage_id'), ('amount', 'amount'), ('close_date', 'close_date'),
            ('probability', 'probability'), ('forecast_category', 'forecast_category'),
            ('owner', 'owner_rep_id'), ('currency', 'currency_code')] %}
        case
            when {{ attribute }}_group = 0
                then max(case when {{ attribute }}_group = 1 then {{ column }} end)
                        over (partition by opportunity_id)
            else max({{ column }}) over (partition by opportunity_id, {{ attribute }}_group)
        end as {{ 'original_amount' if column == 'amount' else column }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from sequenced
),

last_per_instant as (
    -- all changes at one instant apply together
    select
        *,
        row_number() over (
            partition by opportunity_id, event_at order by event_number desc
        ) as instant_rank
    from replayed
),

states as (
    select
        replayed.opportunity_id,
        replayed.source_system,
        replayed.opportunity_created_at,
        replayed.loaded_at,
        replayed.event_at,
        replayed.stage_id,
        coalesce(stage_dimension.stage_name, replayed.stage_id) as stage_name,
        stage_dimension.ladder_stage,
        stage_dimension.stage_order,
        coalesce(stage_dimension.status, 'open') as status,
        coalesce(replayed.forecast_category, stage_dimension.default_forecast_category)
            as forecast_category,
        coalesce(replayed.probability, stage_dimension.default_probability) as probability,
        replayed.original_amount,
        coalesce(replayed.currency_code, replayed.current_currency_code) as currency_code,
        replayed.close_date,
        replayed.owner_rep_id
    from last_per_instant as replayed
    left join {{ ref('int_opportunity_stages_laddered') }} as stage_dimension
        on stage_dimension.stage_key = {{ dbt.concat(["replayed.source_system", "':'",
                                              "coalesce(replayed.pipeline_id, '')", "':'",
                                              "replayed.stage_id"]) }}
    where replayed.instant_rank = 1
),

signed as (
    select
        *,
        {{ dbt.concat([
            "coalesce(stage_id, '~')", "'|'", "status", "'|'",
            "coalesce(forecast_category, '~')", "'|'",
            "coalesce(" ~ dbt.cast("probability", dbt.type_string()) ~ ", '~')", "'|'",
            "coalesce(" ~ dbt.cast("original_amount", dbt.type_string()) ~ ", '~')", "'|'",
            "coalesce(currency_code, '~')", "'|'",
            "coalesce(" ~ dbt.cast("close_date", dbt.type_string()) ~ ", '~')", "'|'",
            "coalesce(owner_rep_id, '~')"]) }} as state_signature
    from states
),

changes as (
    select *
    from (
        select
            *,
            lag(state_signature) over (
                partition by opportunity_id order by event_at
            ) as previous_signature
        from signed
    ) as compared
    where previous_signature is null or previous_signature != state_signature
),

intervals as (
    select
        *,
        case
            when row_number() over (partition by opportunity_id order by event_at) = 1
                then least(event_at, coalesce(opportunity_created_at, event_at))
            else event_at
        end as valid_from,
        lead(event_at) over (partition by opportunity_id order by event_at) as valid_to
    from changes
),

converted as (
    -- amounts at the rate in force when the state began, or on its close date if earlier
    select
        intervals.*,
        {{ converted_amount('intervals.original_amount', 'intervals.currency_code') }}
            as opportunity_amount
    from intervals
    {{ convert_currency_joins(
        'intervals.currency_code',
        'least(coalesce(intervals.close_date, cast(intervals.valid_from as date)), cast(intervals.valid_from as date))'
    ) }}
),

final as (
    select
        {{ dbt.hash(dbt.concat(["opportunity_id", "'|'",
                                dbt.cast("valid_from", dbt.type_string())])) }}
            as opportunity_state_id,
        opportunity_id,
        valid_from,
        valid_to,
        valid_to is null as is_current,
        stage_id,
        stage_name,
        ladder_stage,
        stage_order,
        status,
        forecast_category,
        probability,
        original_amount,
        currency_code,
        opportunity_amount,
        close_date,
        owner_rep_id,
        source_system,
        loaded_at
    from converted
)

select * from final
