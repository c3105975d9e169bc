{#-
    Every recorded change to an opportunity's state, both CRMs, as partial updates: each event
    sets some attributes (sets_<attribute> = true, with the new value) and leaves the others.
    fct_opportunity_states replays them in order (event_at, event_priority, event_key).

    Salesforce
    * OpportunityHistory rows: a full snapshot of stage, amount, close date, probability and
      forecast category.
    * OpportunityFieldHistory 'Owner' rows with user ids (Salesforce also writes a row with the
      names, which is skipped), and the owner before the first change at creation.
    HubSpot
    * Property history of dealstage, amount, closedate, hubspot_owner_id, hs_forecast_category
      and deal_currency_code, one attribute per row.
    Both
    * The current opportunity row at its last modification, so the latest state always equals
      the CRM's current state even where history is incomplete.

    Only valid, non-deleted opportunities (int_opportunities_unioned) have events.
-#}

with

opportunities as (
    select * from {{ ref('int_opportunities_unioned') }}
),

{% if source_enabled('salesforce') %}
salesforce_snapshots as (
    select
        opportunity_id,
        changed_at as event_at,
        1 as event_priority,
        opportunity_history_id as event_key,
        true as sets_stage,
        stage_name as stage_id,
        true as sets_amount,
        amount,
        true as sets_close_date,
        close_date,
        true as sets_probability,
        probability,
        true as sets_forecast_category,
        forecast_category,
        false as sets_owner,
        cast(null as {{ dbt.type_string() }}) as owner_rep_id,
        false as sets_currency,
        cast(null as {{ dbt.type_string() }}) as currency_code,
        _loaded_at
    from {{ ref('stg_salesforce__opportunity_history') }}
),

salesforce_owner_field_changes as (
    select
        opportunity_id,
        changed_at,
        field_history_id,
        old_value,
        new_value,
        _loaded_at,
        row_number() over (
            partition by opportunity_id order by changed_at, field_history_id
        ) as change_number
    from {{ ref('stg_salesforce__opportunity_field_history') }}
    -- user ids have key prefix 005 (queues 00G); the rows with names are skipped
    where field_name in ('Owner', 'OwnerId')
        and {{ left('new_value', 3) }} in ('005', '00G')
),

salesforce_owner_changes as (
    select
        opportunity_id,
        changed_at as event_at,
        2 as event_priority,
        field_history_id as event_key,
        false as sets_stage,
        cast(null as {{ dbt.type_string() }}) as stage_id,
        false as sets_amount,
        cast(null as {{ type_double() }}) as amount,
        false as sets_close_date,
        cast(null as date) as close_date,
        false as sets_probability,
        cast(null as {{ type_double() }}) as probability,
        false as sets_forecast_category,
        cast(null as {{ dbt.type_string() }}) as forecast_category,
        true as sets_owner,
        new_value as owner_rep_id,
        false as sets_currency,
        cast(null as {{ dbt.type_string() }}) as currency_code,
        _loaded_at
    from salesforce_owner_field_changes
),

salesforce_initial_owners as (
    -- the owner at creation: the old value of the first owner change, else today's owner
    select
        opportunities.opportunity_id,
        opportunities.created_at as event_at,
        0 as event_priority,
        'created' as event_key,
        false as sets_stage,
        cast(null as {{ dbt.type_string() }}) as stage_id,
        false as sets_amount,
        cast(null as {{ type_double() }}) as amount,
        false as sets_close_date,
        cast(null as date) as close_date,
        false as sets_probability,
        cast(null as {{ type_double() }}) as probability,
        false as sets_forecast_category,
        cast(null as {{ dbt.type_string() }}) as forecast_category,
        true as sets_owner,
        coalesce(first_changes.old_value, opportunities.owner_rep_id) as owner_rep_id,
        false as sets_currency,
        cast(null as {{ dbt.type_string() }}) as currency_code,
        opportunities._loaded_at
    from opportunities
    left join salesforce_owner_field_changes as first_changes
        on opportunities.opportunity_id = first_changes.opportunity_id
            and first_changes.change_number = 1
    where opportunities.source_system = 'salesforce'
),
{% endif %}

{% if source_enabled('hubspot') %}
hubspot_property_changes as (
    select
        deal_id as opportunity_id,
        changed_at as event_at,
        1 as event_priority,
        property_name as event_key,
        property_name = 'dealstage' as sets_stage,
        case when property_name = 'dealstage' then property_value end as stage_id,
        property_name = 'amount' as sets_amount,
        case
            when property_name = 'amount'
                then {{ dbt.safe_cast("nullif(property_value, '')", type_double()) }}
        end as amount,
        property_name = 'closedate' as sets_close_date,
        case
            when property_name = 'closedate'
                then cast({{ parse_hubspot_datetime("nullif(property_value, '')") }} as date)
        end as close_date,
        false as sets_probability,
        cast(null as {{ type_double() }}) as probability,
        property_name = 'hs_forecast_category' as sets_forecast_category,
        case
            when property_name = 'hs_forecast_category'
                then {{ normalize_forecast_category('property_value') }}
        end as forecast_category,
        property_name = 'hubspot_owner_id' as sets_owner,
        case when property_name = 'hubspot_owner_id' then nullif(property_value, '') end
            as owner_rep_id,
        property_name = 'deal_currency_code' as sets_currency,
        case when property_name = 'deal_currency_code' then upper(nullif(property_value, '')) end
            as currency_code,
        _loaded_at
    from {{ ref('stg_hubspot__deal_property_history') }}
    where property_name in (
            'dealstage', 'amount', 'closedate', 'hubspot_owner_id', 'hs_forecast_category',
            'deal_currency_code'
        )
),
{% endif %}

current_states as (
    select
        opportunity_id,
        coalesce(modified_at, created_at) as event_at,
        9 as event_priority,
        'current' as event_key,
        true as sets_stage,
        stage_id,
        true as sets_amount,
        original_amount as amount,
        true as sets_close_date,
        close_date,
        true as sets_probability,
        probability,
        true as sets_forecast_category,
        forecast_category,
        true as sets_owner,
        owner_rep_id,
        true as sets_currency,
        currency_code,
        _loaded_at
    from opportunities
),

unioned as (
    select * from current_states
    {% if source_enabled('salesforce') %}
    union all
    select * from salesforce_snapshots
    union all
    select * from salesforce_owner_changes
    union all
    select * from salesforce_initial_owners
    {% endif %}
    {% if source_enabled('hubspot') %}
    union all
    select * from hubspot_property_changes
    {% endif %}
),

final as (
    select
        unioned.*,
        opportunities.source_system,
        opportunities.pipeline_id,
        opportunities.created_at as opportunity_created_at,
        opportunities.currency_code as current_currency_code
    from unioned
    inner join opportunities
        on unioned.opportunity_id = opportunities.opportunity_id
    where unioned.event_at is not null
)

select * from final
