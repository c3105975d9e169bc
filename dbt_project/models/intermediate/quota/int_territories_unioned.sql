{#-
    Every sales territory in one shape: Salesforce Territory2 (Enterprise Territory Management)
    and, for the HubSpot business unit, which has no territories, one territory per owner team
    (territory_id 'hubspot_team_<team id>', region and segment from the hubspot_teams seed).
-#}

with

{% if source_enabled('salesforce') %}
salesforce_territories as (
    select
        territory_id,
        territory_name,
        region,
        segment,
        parent_territory_id,
        'salesforce_territory' as territory_type,
        'salesforce' as source_system
    from {{ ref('stg_salesforce__territories') }}
),
{% endif %}

{% if source_enabled('hubspot') %}
hubspot_teams as (
    select
        team_id,
        max(team_name) as team_name
    from {{ ref('stg_hubspot__owners') }}
    where team_id is not null
    group by team_id
),

hubspot_territories as (
    select
        {{ dbt.concat(["'hubspot_team_'", 'hubspot_teams.team_id']) }} as territory_id,
        hubspot_teams.team_name as territory_name,
        teams.region,
        teams.segment,
        cast(null as {{ dbt.type_string() }}) as parent_territory_id,
        'hubspot_team' as territory_type,
        'hubspot' as source_system
    from hubspot_teams
    left join {{ ref('hubspot_teams') }} as teams
        on hubspot_teams.team_name = teams.team_name
),
{% endif %}

unioned as (
    {% if source_enabled('salesforce') -%}
    select * from salesforce_territories
    {%- endif %}
    {% if source_enabled('salesforce') and source_enabled('hubspot') -%}
    union all
    {%- endif %}
    {% if source_enabled('hubspot') -%}
    select * from hubspot_territories
    {%- endif %}
    {% if not source_enabled('salesforce') and not source_enabled('hubspot') -%}
    select
        cast(null as {{ dbt.type_string() }}) as territory_id,
        cast(null as {{ dbt.type_string() }}) as territory_name,
        cast(null as {{ dbt.type_string() }}) as region,
        cast(null as {{ dbt.type_string() }}) as segment,
        cast(null as {{ dbt.type_string() }}) as parent_territory_id,
        cast(null as {{ dbt.type_string() }}) as territory_type,
        cast(null as {{ dbt.type_string() }}) as source_system
    {{ empty_relation_filter() }}
    {%- endif %}
)

select * from unioned
