{#-
    Reps assigned to territories, each with the dates it holds: Salesforce
    UserTerritory2Association rows (from the assignment's last modification, through the rep's
    termination date), HubSpot owners in their team's territory (from the owner's creation).
    Salesforce deletes the assignments of reps who left, so past quarters count only reps still
    assigned today (docs/quota-and-commission.md).
-#}

with

reps as (
    select * from {{ ref('int_reps_unioned') }}
),

assignments as (
    {% if source_enabled('salesforce') %}
    select
        assignments.rep_id,
        assignments.territory_id,
        cast(assignments.modified_at as date) as assigned_from,
        reps.termination_date as assigned_through
    from {{ ref('stg_salesforce__user_territory_assignments') }} as assignments
    inner join reps
        on assignments.rep_id = reps.rep_id
    where assignments.is_active
    {% endif %}

    {% if source_enabled('salesforce') and source_enabled('hubspot') %}
    union all
    {% endif %}

    {% if source_enabled('hubspot') %}
    select
        owners.owner_id as rep_id,
        {{ dbt.concat(["'hubspot_team_'", 'owners.team_id']) }} as territory_id,
        reps.hire_date as assigned_from,
        reps.termination_date as assigned_through
    from {{ ref('stg_hubspot__owners') }} as owners
    inner join reps
        on owners.owner_id = reps.rep_id
    inner join {{ ref('int_sales_roles_assigned') }} as sales_roles
        on owners.owner_id = sales_roles.rep_id
    where owners.team_id is not null
        and sales_roles.is_quota_carrying
    {% endif %}

    {% if not source_enabled('salesforce') and not source_enabled('hubspot') %}
    select
        cast(null as {{ dbt.type_string() }}) as rep_id,
        cast(null as {{ dbt.type_string() }}) as territory_id,
        cast(null as date) as assigned_from,
        cast(null as date) as assigned_through
    {{ empty_relation_filter() }}
    {% endif %}
)

select * from assignments
