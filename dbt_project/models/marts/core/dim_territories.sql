{#- One row per sales territory: Salesforce Territory2 (Enterprise Territory Management) and one
    territory per HubSpot owner team (int_territories_unioned); empty for orgs without either. -#}

with

territories as (
    select
        territory_id,
        territory_name,
        region,
        segment,
        parent_territory_id,
        source_system
    from {{ ref('int_territories_unioned') }}
)

select * from territories
