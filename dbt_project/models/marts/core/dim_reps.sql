{#-
    One row per CRM user who ever owned a record (an opportunity now or in its history, an
    account, a lead or an activity), carried a quota, or manages someone: Salesforce users and
    HubSpot owners, current attributes, with the manager's name.
-#}

with

reps as (
    select * from {{ ref('int_reps_unioned') }}
),

record_owners as (
    select owner_rep_id as rep_id from {{ ref('fct_opportunity_states') }}
    union
    select owner_rep_id from {{ ref('int_opportunities_unioned') }}
    union
    select owner_rep_id from {{ ref('int_accounts_unioned') }}
    union
    select owner_rep_id from {{ ref('int_leads_unioned') }}
    union
    select rep_id from {{ ref('int_activities_unioned') }}
    union
    -- a newly hired rep has a quota (and attainment rows) before owning anything
    select rep_id from {{ ref('int_quotas_allocated_monthly') }}
),

managers as (
    select manager_id as rep_id from reps
    union
    select manager_id from {{ ref('int_reps_historized') }}
),

included as (
    select rep_id from record_owners
    where rep_id is not null
    union
    select rep_id from managers
    where rep_id is not null
),

final as (
    select
        reps.rep_id,
        reps.rep_name,
        reps.email,
        reps.is_active,
        reps.role_name,
        reps.manager_id,
        managers.rep_name as manager_name,
        reps.team,
        reps.region,
        reps.segment,
        reps.hire_date,
        reps.termination_date,
        reps.source_system
    from reps
    inner join included
        on reps.rep_id = included.rep_id
    left join reps as managers
        on reps.manager_id = managers.rep_id
)

select * from final
