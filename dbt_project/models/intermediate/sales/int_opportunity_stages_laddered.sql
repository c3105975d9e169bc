{{ config(materialized='table') }}

{#-
    The stage dimension of both CRMs, one row per (source system, pipeline, stage): sort order,
    closed/won flags, default probability (0-1) and forecast category come from the CRM's own
    stage metadata (Salesforce OpportunityStage, HubSpot pipeline stages: won = closed with
    probability 1.0, sales-metrics §1), never from stage-name lists; the `stage_ladder` seed
    places every stage on the one ordered ladder both CRMs share.
-#}

with

{% if source_enabled('salesforce') %}
salesforce_stage_table as (
    select
        'salesforce' as source_system,
        cast(null as {{ dbt.type_string() }}) as pipeline_id,
        stage_name as stage_id,
        stage_label as stage_name,
        sort_order as crm_sort_order,
        is_closed,
        is_won,
        default_probability,
        default_forecast_category
    from {{ ref('stg_salesforce__opportunity_stages') }}
),

salesforce_observed_stage_flags as (
    -- loaders that do not land OpportunityStage: the flags Salesforce stamps on opportunities,
    -- and stages seen only in the history (no flags: open)
    select
        stage_name,
        is_closed,
        is_won
    from {{ ref('stg_salesforce__opportunities') }}
    union all
    select
        stage_name,
        false as is_closed,
        false as is_won
    from {{ ref('stg_salesforce__opportunity_history') }}
),

salesforce_observed_stages as (
    select
        'salesforce' as source_system,
        cast(null as {{ dbt.type_string() }}) as pipeline_id,
        stage_name as stage_id,
        stage_name,
        cast(null as {{ dbt.type_bigint() }}) as crm_sort_order,
        max(case when is_closed then 1 else 0 end) = 1 as is_closed,
        max(case when is_won then 1 else 0 end) = 1 as is_won,
        cast(null as {{ type_double() }}) as default_probability,
        cast(null as {{ dbt.type_string() }}) as default_forecast_category
    from salesforce_observed_stage_flags
    where stage_name is not null
        and stage_name not in (
            select stage_table.stage_id
            from salesforce_stage_table as stage_table
        )
    group by stage_name
),
{% endif %}

{% if source_enabled('hubspot') %}
hubspot_stages as (
    select
        'hubspot' as source_system,
        pipeline_id,
        stage_id,
        stage_label as stage_name,
        display_order as crm_sort_order,
        is_closed,
        is_closed and probability >= 1 as is_won,
        probability as default_probability,
        cast(null as {{ dbt.type_string() }}) as default_forecast_category
    from {{ ref('stg_hubspot__deal_pipeline_stages') }}
),
{% endif %}

unioned as (
    {% if source_enabled('salesforce') -%}
    select * from salesforce_stage_table
    union all
    select * from salesforce_observed_stages
    {%- endif %}
    {% if source_enabled('salesforce') and source_enabled('hubspot') -%}
    union all
    {%- endif %}
    {% if source_enabled('hubspot') -%}
    select * from hubspot_stages
    {%- endif %}
),

laddered as (
    select
        {{ dbt.concat(["unioned.source_system", "':'", "coalesce(unioned.pipeline_id, '')",
                       "':'", "unioned.stage_id"]) }} as stage_key,
        unioned.source_system,
        unioned.pipeline_id,
        unioned.stage_id,
        unioned.stage_name,
        unioned.crm_sort_order,
        coalesce(unioned.is_closed, false) as is_closed,
        coalesce(unioned.is_won, false) as is_won,
        case
            when unioned.is_won then 'won'
            when unioned.is_closed then 'lost'
            else 'open'
        end as status,
        unioned.default_probability,
        coalesce(
            unioned.default_forecast_category,
            case
                when unioned.is_won then 'closed'
                when unioned.is_closed then 'omitted'
                else 'pipeline'
            end
        ) as default_forecast_category,
        ladder.ladder_stage,
        ladder.stage_order
    from unioned
    left join {{ ref('stage_ladder') }} as ladder
        on unioned.source_system = ladder.source_system
            and coalesce(unioned.pipeline_id, '') = coalesce(ladder.pipeline_id, '')
            and unioned.stage_id = ladder.stage_id
)

select * from laddered
