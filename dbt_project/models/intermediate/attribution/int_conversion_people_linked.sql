{{ config(materialized='table') }}

{#-
    The people whose touches count toward each conversion (sales-metrics §8: "map each person's
    touches to the opportunity through the contact and account"):

    * a lead conversion (a lead created, Salesforce Lead or HubSpot contact entering the
      lifecycle funnel) is linked to that person only;
    * an opportunity is linked to the lead converted into it, to every person of its account -
      the account's (deduplicated) contacts and the leads converted into any opportunity of the
      account - and, in HubSpot, to the contacts associated with the deal.

    One row per conversion and person; person_created_at is when the person was created (the
    lead, else the contact), which locates the lead-creation touch.
-#}

with

leads as (
    select * from {{ ref('int_leads_unioned') }}
),

opportunities as (
    select * from {{ ref('int_opportunities_unioned') }}
),

contacts as (
    select * from {{ ref('int_contacts_deduplicated') }}
),

lead_conversions as (
    select
        'lead' as conversion_type,
        lead_id as conversion_id,
        lead_id as person_id,
        created_at as person_created_at,
        'lead' as link_type,
        source_system
    from leads
),

converted_leads as (
    select
        leads.lead_id,
        leads.created_at,
        leads.source_system,
        opportunities.opportunity_id,
        opportunities.account_id
    from leads
    inner join opportunities
        on leads.converted_opportunity_id = opportunities.opportunity_id
            and leads.source_system = opportunities.source_system
),

account_people as (
    select
        account_id,
        contact_id as person_id,
        created_at as person_created_at,
        'account_contact' as link_type,
        source_system
    from contacts
    where account_id is not null
    union all
    select
        account_id,
        lead_id as person_id,
        created_at as person_created_at,
        'account_lead' as link_type,
        source_system
    from converted_leads
    where account_id is not null
),

opportunity_people as (
    select
        opportunity_id,
        lead_id as person_id,
        created_at as person_created_at,
        'converted_lead' as link_type,
        source_system
    from converted_leads
    union all
    select
        opportunities.opportunity_id,
        account_people.person_id,
        account_people.person_created_at,
        account_people.link_type,
        account_people.source_system
    from opportunities
    inner join account_people
        on opportunities.account_id = account_people.account_id
            and opportunities.source_system = account_people.source_system
    {% if source_enabled('hubspot') -%}
    union all
    select
        associations.deal_id as opportunity_id,
        contacts.contact_id as person_id,
        contacts.created_at as person_created_at,
        'deal_contact' as link_type,
        contacts.source_system
    from {{ ref('stg_hubspot__deal_contact_associations') }} as associations
    inner join contacts
        on associations.contact_id = contacts.contact_id
            and contacts.source_system = 'hubspot'
    {%- endif %}
),

opportunity_links as (
    -- one row per opportunity and person: the most specific link wins
    select
        'opportunity' as conversion_type,
        opportunity_id as conversion_id,
        person_id,
        person_created_at,
        link_type,
        source_system,
        row_number() over (
            partition by opportunity_id, source_system, person_id
            order by
                case link_type
                    when 'converted_lead' then 1
                    when 'deal_contact' then 2
                    when 'account_lead' then 3
                    else 4
                end
        ) as link_rank
    from opportunity_people
),

final as (
    select
        conversion_type,
        conversion_id,
        person_id,
        person_created_at,
        link_type,
        source_system
    from lead_conversions
    union all
    select
        conversion_type,
        conversion_id,
        person_id,
        person_created_at,
        link_type,
        source_system
    from opportunity_links
    where link_rank = 1
)

select * from final
