{#-
    The conversion events that attribution credits (sales-metrics §8): every lead created and
    every opportunity created by the as-of date, whatever its status now. converted_at is the
    creation time; person_created_at is the earliest creation of a person linked to the
    conversion (int_conversion_people_linked), which locates the lead-creation touch.
-#}

with

leads as (
    select
        'lead' as conversion_type,
        lead_id as conversion_id,
        created_at as converted_at,
        cast(null as {{ dbt.type_string() }}) as account_id,
        source_system
    from {{ ref('int_leads_unioned') }}
),

opportunities as (
    select
        'opportunity' as conversion_type,
        opportunity_id as conversion_id,
        created_at as converted_at,
        account_id,
        source_system
    from {{ ref('int_opportunities_unioned') }}
),

unioned as (
    select * from leads
    union all
    select * from opportunities
),

people as (
    select
        conversion_type,
        conversion_id,
        source_system,
        min(person_created_at) as person_created_at
    from {{ ref('int_conversion_people_linked') }}
    group by conversion_type, conversion_id, source_system
),

final as (
    select
        unioned.conversion_type,
        unioned.conversion_id,
        unioned.converted_at,
        people.person_created_at,
        unioned.account_id,
        unioned.source_system
    from unioned
    left join people
        on unioned.conversion_type = people.conversion_type
            and unioned.conversion_id = people.conversion_id
            and unioned.source_system = people.source_system
    where unioned.converted_at < {{ as_of_end_timestamp() }}
)

select * from final
