{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='activity_id',
        on_schema_change='fail',
        post_hook="{{ delete_missing_keys('activity_id', ref('int_activities_unioned')) }}",
    )
}}

-- depends_on: {{ ref('int_opportunities_unioned') }}

{#
    One row per sales activity (call, email, meeting, task) of both CRMs. Metrics count
    completed activities by completion date (sales-metrics §13.5).

    Incremental: activities loaded since the last run, new ones, and those of opportunities
    loaded since the last run are replaced (delete+insert by activity_id); activities that
    disappeared upstream are deleted.
#}

with

activities as (
    select * from {{ ref('int_activities_unioned') }}
    {% if is_incremental() %}
    where _loaded_at >= {{ incremental_since('loaded_at') }}
        or activity_id not in (select activity_id from {{ this }})
        or opportunity_id in (
            select opportunity_id from {{ ref('int_opportunities_unioned') }}
            where _loaded_at >= {{ incremental_since('loaded_at') }}
        )
    {% endif %}
),

final as (
    select
        activity_id,
        activity_type,
        rep_id,
        account_id,
        opportunity_id,
        lead_id,
        contact_id,
        subject,
        activity_date,
        is_completed,
        completed_at,
        cast(completed_at as date) as completed_date,
        duration_minutes,
        source_system,
        _loaded_at as loaded_at
    from activities
)

select * from final
