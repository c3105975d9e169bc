-- Every opportunity has exactly one current state, its intervals tile time without gaps or
-- overlaps, and the current state matches fct_opportunities.
with

states as (
    select
        *,
        lead(valid_from) over (partition by opportunity_id order by valid_from) as next_valid_from
    from {{ ref('fct_opportunity_states') }}
),

current_states as (
    select * from states
    where is_current
),

problems as (
    select
        opportunity_id,
        'gap or overlap' as problem
    from states
    where next_valid_from is not null and next_valid_from != valid_to

    union all

    select
        opportunities.opportunity_id,
        'current state differs' as problem
    from {{ ref('fct_opportunities') }} as opportunities
    left join current_states
        on opportunities.opportunity_id = current_states.opportunity_id
    where current_states.opportunity_id is null
        or current_states.status != opportunities.status
        or current_states.stage_id != opportunities.stage_id
        or current_states.owner_rep_id != opportunities.owner_rep_id
        or coalesce(current_states.close_date, cast('1900-01-01' as date))
        != coalesce(opportunities.close_date, cast('1900-01-01' as date))
        or coalesce(current_states.original_amount, -1)
        != coalesce(opportunities.original_amount, -1)

    union all

    select
        opportunity_id,
        'several current states' as problem
    from current_states
    group by opportunity_id
    having count(*) > 1
)

select * from problems
