{#- Salesforce accounts and HubSpot companies in one shape, with the Salesforce territory. -#}

with

{% if source_enabled('salesforce') %}
territory_assignments as (
    -- an account in several territories takes the first by id, so the grain stays one row
    select
        account_id,
        min(territory_id) as territory_id
    from {{ ref('stg_salesforce__account_territory_assignments') }}
    group by account_id
),

salesforce_accounts as (
    select
        crm_accounts.account_id,
        crm_accounts.account_name,
        crm_accounts.account_type,
        crm_accounts.industry,
        crm_accounts.segment,
        crm_accounts.region,
        crm_accounts.country,
        territory_assignments.territory_id,
        crm_accounts.owner_rep_id,
        crm_accounts.parent_account_id,
        crm_accounts.annual_revenue,
        crm_accounts.currency_code,
        crm_accounts.employee_count,
        crm_accounts.created_at,
        'salesforce' as source_system
    from {{ ref('stg_salesforce__accounts') }} as crm_accounts
    left join territory_assignments
        on crm_accounts.account_id = territory_assignments.account_id
),
{% endif %}

{% if source_enabled('hubspot') %}
hubspot_accounts as (
    select
        company_id as account_id,
        company_name as account_name,
        lifecycle_stage as account_type,
        industry,
        cast(null as {{ dbt.type_string() }}) as segment,
        cast(null as {{ dbt.type_string() }}) as region,
        country,
        cast(null as {{ dbt.type_string() }}) as territory_id,
        owner_rep_id,
        cast(null as {{ dbt.type_string() }}) as parent_account_id,
        annual_revenue,
        -- HubSpot company revenue is in the portal's home currency
        '{{ var("corporate_currency") }}' as currency_code,
        employee_count,
        created_at,
        'hubspot' as source_system
    from {{ ref('stg_hubspot__companies') }}
),
{% endif %}

unioned as (
    {% if source_enabled('salesforce') -%}
    select * from salesforce_accounts
    {%- endif %}
    {% if source_enabled('salesforce') and source_enabled('hubspot') -%}
    union all
    {%- endif %}
    {% if source_enabled('hubspot') -%}
    select * from hubspot_accounts
    {%- endif %}
)

select * from unioned
