{#-
    Leads of both CRMs in one shape. Salesforce: Lead records with their MQL/SQL date fields and
    conversion. HubSpot has no lead object: a lead is a contact that entered the lifecycle
    funnel (a lead, MQL, SQL or opportunity stage date); it is converted when it reached the
    opportunity stage, and its opportunity is the associated deal created closest to that moment
    (within a day).
-#}

with

{% if source_enabled('salesforce') %}
salesforce_leads as (
    select
        lead_id,
        created_at,
        lead_source,
        campaign_id,
        owner_rep_id,
        email,
        lead_status,
        mql_at,
        sql_at,
        first_response_at,
        is_converted,
        converted_date,
        converted_opportunity_id,
        'salesforce' as source_system
    from {{ ref('stg_salesforce__leads') }}
),
{% endif %}

{% if source_enabled('hubspot') %}
funnel_contacts as (
    select *
    from {{ ref('stg_hubspot__contacts') }}
    where coalesce(lead_at, mql_at, sql_at, opportunity_at) is not null
),

conversion_candidates as (
    select
        contacts.contact_id,
        associations.deal_id,
        row_number() over (
            partition by contacts.contact_id
            order by
                abs({{ seconds_between('contacts.opportunity_at', 'deals.created_at') }}),
                associations.deal_id
        ) as candidate_rank
    from funnel_contacts as contacts
    inner join {{ ref('stg_hubspot__deal_contact_associations') }} as associations
        on contacts.contact_id = associations.contact_id
    inner join {{ ref('stg_hubspot__deals') }} as deals
        on associations.deal_id = deals.deal_id
    where contacts.opportunity_at is not null
        and abs({{ seconds_between('contacts.opportunity_at', 'deals.created_at') }}) <= 86400
),

hubspot_leads as (
    select
        contacts.contact_id as lead_id,
        coalesce(contacts.lead_at, contacts.created_at) as created_at,
        contacts.lead_source,
        cast(null as {{ dbt.type_string() }}) as campaign_id,
        contacts.owner_rep_id,
        contacts.email,
        contacts.lead_status,
        contacts.mql_at,
        contacts.sql_at,
        cast(null as {{ dbt.type_timestamp() }}) as first_response_at,
        contacts.opportunity_at is not null as is_converted,
        cast(contacts.opportunity_at as date) as converted_date,
        conversion_candidates.deal_id as converted_opportunity_id,
        'hubspot' as source_system
    from funnel_contacts as contacts
    left join conversion_candidates
        on contacts.contact_id = conversion_candidates.contact_id
            and conversion_candidates.candidate_rank = 1
),
{% endif %}

unioned as (
    {% if source_enabled('salesforce') -%}
    select * from salesforce_leads
    {%- endif %}
    {% if source_enabled('salesforce') and source_enabled('hubspot') -%}
    union all
    {%- endif %}
    {% if source_enabled('hubspot') -%}
    select * from hubspot_leads
    {%- endif %}
)

select * from unioned
