{#-
    Marketing touches of people, the input of multi-touch attribution (sales-metrics §8):
    Salesforce campaign responses (CampaignMember with a response date) and HubSpot marketing
    email opens and clicks (matched to the deduplicated contact with the recipient's email).
-#}

with

{% if source_enabled('salesforce') %}
salesforce_touches as (
    select
        members.campaign_member_id as touch_id,
        'campaign_member' as touch_type,
        members.campaign_id,
        cast(members.first_responded_date as {{ dbt.type_timestamp() }}) as touched_at,
        members.lead_id,
        members.contact_id,
        coalesce(contacts.email, leads.email) as email,
        'salesforce' as source_system
    from {{ ref('stg_salesforce__campaign_members') }} as members
    left join {{ ref('stg_salesforce__leads') }} as leads
        on members.lead_id = leads.lead_id
    left join {{ ref('stg_salesforce__contacts') }} as contacts
        on members.contact_id = contacts.contact_id
    where members.has_responded
        and members.first_responded_date is not null
),
{% endif %}

{% if source_enabled('hubspot') %}
hubspot_touches as (
    select
        events.email_event_id as touch_id,
        case events.event_type when 'CLICK' then 'email_click' else 'email_open' end
            as touch_type,
        events.email_campaign_id as campaign_id,
        events.occurred_at as touched_at,
        cast(null as {{ dbt.type_string() }}) as lead_id,
        contacts.contact_id,
        events.recipient_email as email,
        'hubspot' as source_system
    from {{ ref('stg_hubspot__email_events') }} as events
    left join {{ ref('int_contacts_deduplicated') }} as contacts
        on events.recipient_email = contacts.email
            and contacts.source_system = 'hubspot'
    where events.event_type in ('OPEN', 'CLICK')
),
{% endif %}

unioned as (
    {% if source_enabled('salesforce') -%}
    select * from salesforce_touches
    {%- endif %}
    {% if source_enabled('salesforce') and source_enabled('hubspot') -%}
    union all
    {%- endif %}
    {% if source_enabled('hubspot') -%}
    select * from hubspot_touches
    {%- endif %}
)

select * from unioned
