{#-
    Contacts of both CRMs, deduplicated by email within each CRM (sales-metrics §13.11): the
    earliest-created record of an email survives and counts the duplicates merged into it.
    Contacts without an email are kept as they are.
-#}

with

unioned as (
    {% if source_enabled('salesforce') -%}
    select
        contact_id,
        account_id,
        owner_rep_id,
        contact_name,
        email,
        title,
        lead_source,
        created_at,
        'salesforce' as source_system
    from {{ ref('stg_salesforce__contacts') }}
    {%- endif %}
    {% if source_enabled('salesforce') and source_enabled('hubspot') -%}
    union all
    {%- endif %}
    {% if source_enabled('hubspot') -%}
    select
        contact_id,
        company_id as account_id,
        owner_rep_id,
        contact_name,
        email,
        title,
        lead_source,
        created_at,
        'hubspot' as source_system
    from {{ ref('stg_hubspot__contacts') }}
    {%- endif %}
),

ranked as (
    select
        *,
        row_number() over (
            partition by source_system, coalesce(email, contact_id)
            order by created_at, contact_id
        ) as email_rank,
        count(*) over (partition by source_system, coalesce(email, contact_id)) as email_records
    from unioned
),

survivors as (
    select
        contact_id,
        account_id,
        owner_rep_id,
        contact_name,
        email,
        title,
        lead_source,
        created_at,
        email_records - 1 as merged_duplicates,
        source_system
    from ranked
    where email_rank = 1
)

select * from survivors
