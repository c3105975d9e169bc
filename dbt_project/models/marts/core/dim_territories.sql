{#- One row per sales territory (Salesforce Enterprise Territory Management; empty without it). -#}

with

{% if source_enabled('salesforce') %}
territories as (
    select
        territory_id,
        territory_name,
        region,
        segment,
        parent_territory_id,
        'salesforce' as source_system
    from {{ ref('stg_salesforce__territories') }}
)
{% else %}
territories as (
    select
        cast(null as {{ dbt.type_string() }}) as territory_id,
        cast(null as {{ dbt.type_string() }}) as territory_name,
        cast(null as {{ dbt.type_string() }}) as region,
        cast(null as {{ dbt.type_string() }}) as segment,
        cast(null as {{ dbt.type_string() }}) as parent_territory_id,
        cast(null as {{ dbt.type_string() }}) as source_system
    {{ empty_relation_filter() }}
)
{% endif %}

select * from territories
