{{ config(materialized='table') }}

{#-
    The sales hierarchy over time: one row per rep and interval [valid_from, valid_to) of
    unchanged manager, role, team, region, segment and active flag (valid_to NULL = current).

    Salesforce: from every user version the connector extracted (`user__versions`) plus the
    current user row, each valid from its SystemModstamp. History only exists from the first
    version a loader saw: before it, consumers fall back to the current values and say so.
    HubSpot owners have no hierarchy history: one interval from their creation.
-#}

with

versions as (
    {% if source_enabled('salesforce') %}
    select
        versions.user_id as rep_id,
        versions.modified_at as valid_from,
        versions.manager_id,
        user_roles.role_name,
        user_roles.role_name as team,
        versions.region,
        versions.segment,
        versions.is_active,
        'salesforce' as source_system,
        1 as version_priority
    from {{ ref('stg_salesforce__user_versions') }} as versions
    left join {{ ref('stg_salesforce__user_roles') }} as user_roles
        on versions.user_role_id = user_roles.user_role_id

    union all

    select
        rep_id,
        modified_at as valid_from,
        manager_id,
        role_name,
        team,
        region,
        segment,
        is_active,
        source_system,
        2 as version_priority
    from {{ ref('int_reps_unioned') }}
    where source_system = 'salesforce'
    {% endif %}

    {% if source_enabled('salesforce') and source_enabled('hubspot') %}
    union all
    {% endif %}

    {% if source_enabled('hubspot') %}
    select
        reps.rep_id,
        owners.created_at as valid_from,
        reps.manager_id,
        reps.role_name,
        reps.team,
        reps.region,
        reps.segment,
        reps.is_active,
        reps.source_system,
        2 as version_priority
    from {{ ref('int_reps_unioned') }} as reps
    inner join {{ ref('stg_hubspot__owners') }} as owners
        on reps.rep_id = owners.owner_id
    where reps.source_system = 'hubspot'
    {% endif %}
),

ranked as (
    select
        *,
        row_number() over (
            partition by rep_id, valid_from order by version_priority desc
        ) as rank_at_instant
    from versions
    where valid_from is not null
),

deduplicated as (
    -- one version per instant; the current row wins over the extracted version it repeats
    select * from ranked
    where rank_at_instant = 1
),

compared as (
    select
        *,
        lag({{ dbt.concat(["coalesce(manager_id, '')", "'|'", "coalesce(role_name, '')",
                           "'|'", "coalesce(team, '')", "'|'", "coalesce(region, '')",
                           "'|'", "coalesce(segment, '')", "'|'",
                           dbt.cast("is_active", dbt.type_string())]) }})
            over (partition by rep_id order by valid_from) as previous_state,
        {{ dbt.concat(["coalesce(manager_id, '')", "'|'", "coalesce(role_name, '')",
                       "'|'", "coalesce(team, '')", "'|'", "coalesce(region, '')",
                       "'|'", "coalesce(segment, '')", "'|'",
                       dbt.cast("is_active", dbt.type_string())]) }} as current_state
    from deduplicated
),

changes as (
    select *
    from compared
    where previous_state is null or previous_state != current_state
),

intervals as (
    select
        rep_id,
        valid_from,
        lead(valid_from) over (partition by rep_id order by valid_from) as valid_to,
        manager_id,
        role_name,
        team,
        region,
        segment,
        is_active,
        source_system
    from changes
)

select * from intervals
