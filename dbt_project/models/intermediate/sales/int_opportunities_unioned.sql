{{ config(materialized='table') }}

{#-
    Current state of every valid, non-deleted opportunity of both CRMs in one shape, amounts
    still in their original currency. Status, probability and forecast category come from the
    opportunity where the CRM stamps them, else from its stage's metadata: a HubSpot deal is won
    when its stage is closed with probability 1.0, lost when closed otherwise, open when not
    closed; its forecast category is its own property, else closed/omitted/pipeline by status.
-#}

with

stages as (
    select * from {{ ref('int_opportunity_stages_laddered') }}
),

{% if source_enabled('salesforce') %}
salesforce_opportunities as (
    select
        opportunities.opportunity_id,
        opportunities.opportunity_name,
        opportunities.account_id,
        opportunities.owner_rep_id,
        opportunities.opportunity_type,
        cast(null as {{ dbt.type_string() }}) as pipeline_id,
        opportunities.stage_name as stage_id,
        coalesce(stages.stage_name, opportunities.stage_name) as stage_name,
        stages.stage_key,
        coalesce(opportunities.is_closed, stages.is_closed, false) as is_closed,
        coalesce(opportunities.is_won, stages.is_won, false) as is_won,
        opportunities.probability as crm_probability,
        opportunities.forecast_category as crm_forecast_category,
        opportunities.amount as original_amount,
        opportunities.currency_code,
        cast(null as {{ type_double() }}) as amount_in_home_currency,
        opportunities.created_at,
        opportunities.close_date,
        opportunities.lead_source,
        opportunities.campaign_id,
        opportunities.loss_reason,
        opportunities.renewal_of_opportunity_id,
        opportunities.contract_start_date,
        opportunities.contract_end_date,
        opportunities.owner_manager_id_at_close as stamped_owner_manager_id_at_close,
        opportunities.modified_at,
        opportunities._loaded_at,
        'salesforce' as source_system
    from {{ ref('stg_salesforce__opportunities') }} as opportunities
    left join stages
        on stages.source_system = 'salesforce'
            and opportunities.stage_name = stages.stage_id
),
{% endif %}

{% if source_enabled('hubspot') %}
deal_companies as (
    -- one company per deal: the primary association (type 5) first
    select
        deal_id,
        company_id,
        row_number() over (
            partition by deal_id
            order by case when association_type_id = 5 then 0 else 1 end, company_id
        ) as company_rank
    from {{ ref('stg_hubspot__deal_company_associations') }}
),

hubspot_opportunities as (
    select
        deals.deal_id as opportunity_id,
        deals.deal_name as opportunity_name,
        deal_companies.company_id as account_id,
        deals.owner_rep_id,
        deals.opportunity_type,
        deals.pipeline_id,
        deals.stage_id,
        coalesce(stages.stage_name, deals.stage_id) as stage_name,
        stages.stage_key,
        coalesce(stages.is_closed, deals.is_closed_won, false) as is_closed,
        coalesce(stages.is_won, deals.is_closed_won, false) as is_won,
        deals.stage_probability as crm_probability,
        deals.forecast_category as crm_forecast_category,
        deals.amount as original_amount,
        deals.currency_code,
        deals.amount_in_home_currency,
        deals.created_at,
        deals.close_date,
        deals.lead_source,
        cast(null as {{ dbt.type_string() }}) as campaign_id,
        deals.loss_reason,
        deals.renewal_of_deal_id as renewal_of_opportunity_id,
        deals.contract_start_date,
        deals.contract_end_date,
        cast(null as {{ dbt.type_string() }}) as stamped_owner_manager_id_at_close,
        deals.modified_at,
        deals._loaded_at,
        'hubspot' as source_system
    from {{ ref('stg_hubspot__deals') }} as deals
    left join stages
        on stages.source_system = 'hubspot'
            and deals.pipeline_id = stages.pipeline_id
            and deals.stage_id = stages.stage_id
    left join deal_companies
        on deals.deal_id = deal_companies.deal_id
            and deal_companies.company_rank = 1
),
{% endif %}

unioned as (
    {% if source_enabled('salesforce') -%}
    select * from salesforce_opportunities
    {%- endif %}
    {% if source_enabled('salesforce') and source_enabled('hubspot') -%}
    union all
    {%- endif %}
    {% if source_enabled('hubspot') -%}
    select * from hubspot_opportunities
    {%- endif %}
),

final as (
    select
        unioned.opportunity_id,
        unioned.source_system,
        unioned.opportunity_name,
        unioned.account_id,
        unioned.owner_rep_id,
        unioned.opportunity_type,
        unioned.pipeline_id,
        unioned.stage_key,
        unioned.stage_id,
        unioned.stage_name,
        stages.ladder_stage,
        stages.stage_order,
        unioned.is_closed,
        unioned.is_won,
        case
            when unioned.is_won then 'won'
            when unioned.is_closed then 'lost'
            else 'open'
        end as status,
        coalesce(
            unioned.crm_forecast_category,
            stages.default_forecast_category,
            case
                when unioned.is_won then 'closed'
                when unioned.is_closed then 'omitted'
                else 'pipeline'
            end
        ) as forecast_category,
        coalesce(unioned.crm_probability, stages.default_probability) as probability,
        unioned.original_amount,
        unioned.currency_code,
        unioned.amount_in_home_currency,
        unioned.created_at,
        cast(unioned.created_at as date) as created_date,
        unioned.close_date,
        unioned.lead_source,
        unioned.campaign_id,
        unioned.loss_reason,
        unioned.renewal_of_opportunity_id,
        unioned.contract_start_date,
        unioned.contract_end_date,
        unioned.stamped_owner_manager_id_at_close,
        unioned.modified_at,
        unioned._loaded_at
    from unioned
    left join stages
        on unioned.stage_key = stages.stage_key
)

select * from final
