{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='opportunity_id',
        on_schema_change='fail',
        post_hook="{{ delete_missing_keys('opportunity_id', ref('int_opportunities_unioned')) }}",
    )
}}

{#-
    One row per stage visit: consecutive states in the same stage form one visit, entered when
    the first of them began and exited when the next visit began (the next stage entry or the
    close, sales-metrics §4). A regression back to an earlier stage is a new visit. The current
    visit and closed stages have no exit; days_in_stage is only set for finished visits.
-#}

with

states as (
    select * from {{ ref('fct_opportunity_states') }}
    {% if is_incremental() %}
    where opportunity_id in (
            select changed.opportunity_id from {{ ref('fct_opportunity_states') }} as changed
            where changed.loaded_at >= {{ incremental_since('loaded_at') }}
        )
    {% endif %}
),

flagged as (
    select
        *,
        case
            when stage_id = lag(stage_id) over (partition by opportunity_id order by valid_from)
                then 0
            else 1
        end as is_new_visit
    from states
),

numbered as (
    select
        *,
        cast(sum(is_new_visit) over (
            partition by opportunity_id
            order by valid_from
            rows between unbounded preceding and current row
        ) as {{ dbt.type_int() }}) as visit_number
    from flagged
),

visits as (
    select
        opportunity_id,
        visit_number,
        max(stage_id) as stage_id,
        max(stage_name) as stage_name,
        max(ladder_stage) as ladder_stage,
        max(stage_order) as stage_order,
        max(status) as stage_status,
        min(valid_from) as entered_at,
        max(source_system) as source_system,
        max(loaded_at) as loaded_at
    from numbered
    group by opportunity_id, visit_number
),

exits as (
    select
        *,
        lead(entered_at) over (partition by opportunity_id order by visit_number) as exited_at
    from visits
),

final as (
    select
        {{ dbt.hash(dbt.concat(["opportunity_id", "'|'",
                                dbt.cast("visit_number", dbt.type_string())])) }}
            as stage_visit_id,
        opportunity_id,
        visit_number,
        stage_id,
        stage_name,
        ladder_stage,
        stage_order,
        stage_status,
        entered_at,
        exited_at,
        {{ seconds_between('entered_at', 'exited_at') }}
        / 86400.0 as days_in_stage,
        source_system,
        loaded_at
    from exits
)

select * from final
