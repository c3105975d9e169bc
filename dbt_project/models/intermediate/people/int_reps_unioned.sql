{#-
    Every CRM user who can own records, one row per user, current attributes: Salesforce users
    and HubSpot owners in one shape.

    Salesforce has no team field: the role hierarchy models teams, so `team` is the user's role
    name. HubSpot owners have no manager or role; their team is the primary team and its region
    and segment come from the `hubspot_teams` seed.
-#}

with

{% if source_enabled('salesforce') %}
salesforce_reps as (
    select
        crm_users.user_id as rep_id,
        crm_users.user_name as rep_name,
        crm_users.email,
        crm_users.is_active,
        user_roles.role_name,
        crm_users.manager_id,
        user_roles.role_name as team,
        crm_users.region,
        crm_users.segment,
        crm_users.hire_date,
        crm_users.termination_date,
        crm_users.modified_at,
        'salesforce' as source_system
    from {{ ref('stg_salesforce__users') }} as crm_users
    left join {{ ref('stg_salesforce__user_roles') }} as user_roles
        on crm_users.user_role_id = user_roles.user_role_id
),
{% endif %}

{% if source_enabled('hubspot') %}
hubspot_reps as (
    select
        owners.owner_id as rep_id,
        owners.owner_name as rep_name,
        owners.email,
        owners.is_active,
        cast(null as {{ dbt.type_string() }}) as role_name,
        cast(null as {{ dbt.type_string() }}) as manager_id,
        owners.team_name as team,
        teams.region,
        teams.segment,
        cast(owners.created_at as date) as hire_date,
        case when not owners.is_active then cast(owners.updated_at as date) end
            as termination_date,
        owners.updated_at as modified_at,
        'hubspot' as source_system
    from {{ ref('stg_hubspot__owners') }} as owners
    left join {{ ref('hubspot_teams') }} as teams
        on owners.team_name = teams.team_name
),
{% endif %}

unioned as (
    {% if source_enabled('salesforce') -%}
    select * from salesforce_reps
    {%- endif %}
    {% if source_enabled('salesforce') and source_enabled('hubspot') -%}
    union all
    {%- endif %}
    {% if source_enabled('hubspot') -%}
    select * from hubspot_reps
    {%- endif %}
)

select * from unioned
