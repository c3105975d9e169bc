{#-
    The territory of every account, unassigned ones kept: Salesforce accounts by their
    ObjectTerritory2Association (int_accounts_unioned), HubSpot companies by their owner's team.
    Current assignments (neither CRM keeps their history). territory_basis says how the
    territory was found: territory_association, owner_team or unassigned.
-#}

with

accounts as (
    select * from {{ ref('int_accounts_unioned') }}
),

owner_teams as (
    {% if source_enabled('hubspot') -%}
    select
        owner_id,
        {{ dbt.concat(["'hubspot_team_'", 'team_id']) }} as territory_id
    from {{ ref('stg_hubspot__owners') }}
    where team_id is not null
    {%- else -%}
    select
        cast(null as {{ dbt.type_string() }}) as owner_id,
        cast(null as {{ dbt.type_string() }}) as territory_id
    {{ empty_relation_filter() }}
    {%- endif %}
),

final as (
    select
        accounts.account_id,
        accounts.account_name,
        accounts.owner_rep_id,
        accounts.created_at,
        accounts.source_system,
        coalesce(accounts.territory_id, owner_teams.territory_id) as territory_id,
        case
            when accounts.territory_id is not null then 'territory_association'
            when owner_teams.territory_id is not null then 'owner_team'
            else 'unassigned'
        end as territory_basis
    from accounts
    left join owner_teams
        on accounts.owner_rep_id = owner_teams.owner_id
            and accounts.source_system = 'hubspot'
)

select * from final
