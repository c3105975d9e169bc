{#-
    One row per lead of both CRMs (Salesforce leads, HubSpot contacts in the lifecycle funnel)
    with the dates it reached each funnel stage. `status` is the furthest stage reached;
    a converted opportunity that is deleted or invalid is not referenced.
-#}

with

leads as (
    select
        *,
        {{ seconds_between('created_at', 'first_response_at') }}
        / 3600.0 as hours_to_first_response
    from {{ ref('int_leads_unioned') }}
),

opportunities as (
    select opportunity_id from {{ ref('int_opportunities_unioned') }}
),

final as (
    select
        leads.lead_id,
        cast(leads.created_at as date) as created_date,
        leads.created_at,
        leads.lead_source,
        leads.campaign_id,
        leads.owner_rep_id,
        cast(leads.mql_at as date) as mql_date,
        cast(leads.sql_at as date) as sql_date,
        leads.converted_date,
        opportunities.opportunity_id as converted_opportunity_id,
        leads.first_response_at,
        leads.hours_to_first_response,
        case
            when leads.is_converted then 'converted'
            when leads.sql_at is not null then 'sql'
            when leads.mql_at is not null then 'mql'
            else 'lead'
        end as status,
        leads.lead_status,
        leads.is_converted,
        leads.source_system
    from leads
    left join opportunities
        on leads.converted_opportunity_id = opportunities.opportunity_id
)

select * from final
