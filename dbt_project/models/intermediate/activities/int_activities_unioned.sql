{#-
    Sales activities of both CRMs in one shape: Salesforce tasks (calls, emails, to-dos) and
    events (meetings), HubSpot calls, emails and meetings with the deal they were logged on.

    Completion (sales-metrics §13.5): a task when closed, a HubSpot engagement when its status
    or outcome says so (COMPLETED, SENT). Salesforce events carry no status: a calendar event
    counts as held when it ends, so it is completed at its end time and metrics only count it
    once that time is on or before the as-of date.

    Activities logged on an opportunity that is deleted or excluded as invalid are left out with
    it (Salesforce deletes an opportunity's activities with it).
-#}

with

{% if source_enabled('salesforce') %}
salesforce_tasks as (
    select
        task_id as activity_id,
        activity_type,
        owner_rep_id as rep_id,
        coalesce(account_id, case when {{ left('what_id', 3) }} = '001' then what_id end)
            as account_id,
        case when {{ left('what_id', 3) }} = '006' then what_id end as opportunity_id,
        case when {{ left('who_id', 3) }} = '00Q' then who_id end as lead_id,
        case when {{ left('who_id', 3) }} = '003' then who_id end as contact_id,
        subject,
        coalesce(activity_date, cast(completed_at as date), cast(created_at as date))
            as activity_date,
        is_completed,
        case
            when is_completed
                then coalesce(completed_at, cast(activity_date as {{ dbt.type_timestamp() }}))
        end as completed_at,
        case when activity_type = 'call' then call_duration_in_seconds / 60.0 end
            as duration_minutes,
        _loaded_at,
        'salesforce' as source_system
    from {{ ref('stg_salesforce__tasks') }}
),

salesforce_events as (
    select
        event_id as activity_id,
        'meeting' as activity_type,
        owner_rep_id as rep_id,
        coalesce(account_id, case when {{ left('what_id', 3) }} = '001' then what_id end)
            as account_id,
        case when {{ left('what_id', 3) }} = '006' then what_id end as opportunity_id,
        case when {{ left('who_id', 3) }} = '00Q' then who_id end as lead_id,
        case when {{ left('who_id', 3) }} = '003' then who_id end as contact_id,
        subject,
        coalesce(activity_date, cast(started_at as date)) as activity_date,
        true as is_completed,
        coalesce(ended_at, started_at, cast(activity_date as {{ dbt.type_timestamp() }}))
            as completed_at,
        cast(duration_in_minutes as {{ type_double() }}) as duration_minutes,
        _loaded_at,
        'salesforce' as source_system
    from {{ ref('stg_salesforce__events') }}
),
{% endif %}

{% if source_enabled('hubspot') %}
hubspot_engagements as (
    select
        call_id as engagement_id,
        'call' as activity_type,
        owner_rep_id,
        call_title as subject,
        occurred_at,
        is_completed,
        duration_minutes,
        _loaded_at
    from {{ ref('stg_hubspot__calls') }}
    union all
    select
        email_id as engagement_id,
        'email' as activity_type,
        owner_rep_id,
        email_subject as subject,
        occurred_at,
        is_completed,
        cast(null as {{ type_double() }}) as duration_minutes,
        _loaded_at
    from {{ ref('stg_hubspot__emails') }}
    union all
    select
        meeting_id as engagement_id,
        'meeting' as activity_type,
        owner_rep_id,
        meeting_title as subject,
        occurred_at,
        is_completed,
        duration_minutes,
        _loaded_at
    from {{ ref('stg_hubspot__meetings') }}
),

engagement_deals as (
    select
        call_id as engagement_id,
        deal_id,
        _loaded_at
    from {{ ref('stg_hubspot__call_deal_associations') }}
    union all
    select
        email_id as engagement_id,
        deal_id,
        _loaded_at
    from {{ ref('stg_hubspot__email_deal_associations') }}
    union all
    select
        meeting_id as engagement_id,
        deal_id,
        _loaded_at
    from {{ ref('stg_hubspot__meeting_deal_associations') }}
),

first_deals as (
    -- one deal per engagement
    select
        engagement_id,
        min(deal_id) as deal_id,
        max(_loaded_at) as _loaded_at
    from engagement_deals
    group by engagement_id
),

hubspot_activities as (
    select
        engagements.engagement_id as activity_id,
        engagements.activity_type,
        engagements.owner_rep_id as rep_id,
        deals.account_id,
        first_deals.deal_id as opportunity_id,
        cast(null as {{ dbt.type_string() }}) as lead_id,
        cast(null as {{ dbt.type_string() }}) as contact_id,
        engagements.subject,
        cast(engagements.occurred_at as date) as activity_date,
        engagements.is_completed,
        case when engagements.is_completed then engagements.occurred_at end as completed_at,
        engagements.duration_minutes,
        case
            when first_deals._loaded_at > engagements._loaded_at then first_deals._loaded_at
            else engagements._loaded_at
        end as _loaded_at,
        'hubspot' as source_system
    from hubspot_engagements as engagements
    left join first_deals
        on engagements.engagement_id = first_deals.engagement_id
    left join {{ ref('int_opportunities_unioned') }} as deals
        on first_deals.deal_id = deals.opportunity_id
),
{% endif %}

unioned as (
    {% if source_enabled('salesforce') -%}
    select * from salesforce_tasks
    union all
    select * from salesforce_events
    {%- endif %}
    {% if source_enabled('salesforce') and source_enabled('hubspot') -%}
    union all
    {%- endif %}
    {% if source_enabled('hubspot') -%}
    select * from hubspot_activities
    {%- endif %}
),

final as (
    select *
    from unioned
    where opportunity_id is null
        or opportunity_id in (
            select opportunities.opportunity_id
            from {{ ref('int_opportunities_unioned') }} as opportunities
        )
)

select * from final
