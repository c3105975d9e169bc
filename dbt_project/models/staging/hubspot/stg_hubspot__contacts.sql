{{ config(enabled=source_enabled('hubspot')) }}

{%- set columns = {
    'id': 'id',
    'email': 'string',
    'firstname': 'string',
    'lastname': 'string',
    'jobtitle': 'string',
    'lifecyclestage': 'string',
    'hs_lead_status': 'string',
    'hubspot_owner_id': 'id',
    'associatedcompanyid': 'id',
    'hs_analytics_source': 'string',
    'hs_lifecyclestage_lead_date': 'timestamp',
    'hs_lifecyclestage_marketingqualifiedlead_date': 'timestamp',
    'hs_lifecyclestage_salesqualifiedlead_date': 'timestamp',
    'hs_lifecyclestage_opportunity_date': 'timestamp',
    'hs_lifecyclestage_customer_date': 'timestamp',
    'createdate': 'timestamp',
    'created_at': 'timestamp',
    'archived': 'boolean',
} %}

with

source as (
    {{ select_source('hubspot', 'contacts', columns, required=true) }}
),

renamed as (
    select
        -- ids
        id as contact_id,
        associatedcompanyid as company_id,
        hubspot_owner_id as owner_rep_id,

        -- text
        trim({{ dbt.concat(["coalesce(firstname, '')", "' '", "coalesce(lastname, '')"]) }})
            as contact_name,
        lower(trim(email)) as email,
        jobtitle as title,
        lifecyclestage as lifecycle_stage,
        hs_lead_status as lead_status,
        hs_analytics_source as lead_source,

        -- lifecycle stage dates: a HubSpot lead is a contact moving through them
        hs_lifecyclestage_lead_date as lead_at,
        hs_lifecyclestage_marketingqualifiedlead_date as mql_at,
        hs_lifecyclestage_salesqualifiedlead_date as sql_at,
        hs_lifecyclestage_opportunity_date as opportunity_at,
        hs_lifecyclestage_customer_date as customer_at,
        coalesce(createdate, created_at) as created_at,
        _loaded_at

    from source
    where not coalesce(archived, false)
)

select * from renamed
