{#-
    The sales role of every rep (seeds sales_role_assignments and sales_roles): a row for the
    rep's email wins over a row for the rep's CRM role (Salesforce UserRole) or team (HubSpot
    has no roles: its owners map by team). The role decides whether a rep carries quota (team
    rows of the quota plan apply to quota-carrying members only), the ramp schedule and the
    commission plan. Current CRM attributes; reps whose role is not mapped have no sales role.
-#}

-- depends_on: {{ ref('int_quota_seed_rows_validated') }}

with

schedules as (
    select
        sales_role,
        max(tenure_month) as ramp_months
    from {{ ref('ramp_schedules') }}
    group by sales_role
),

reps as (
    select
        rep_id,
        lower(email) as email,
        coalesce(role_name, team) as crm_role_or_team,
        source_system
    from {{ ref('int_reps_unioned') }}
),

assignments as (
    select
        source_system,
        crm_role_or_team,
        lower(rep_email) as rep_email,
        sales_role
    from {{ ref('sales_role_assignments') }}
),

candidates as (
    select
        reps.rep_id,
        assignments.sales_role,
        'rep_email' as role_basis,
        1 as precedence
    from reps
    inner join assignments
        on reps.source_system = assignments.source_system
            and reps.email = assignments.rep_email

    union all

    select
        reps.rep_id,
        assignments.sales_role,
        'crm_role_or_team' as role_basis,
        2 as precedence
    from reps
    inner join assignments
        on reps.source_system = assignments.source_system
            and reps.crm_role_or_team = assignments.crm_role_or_team
            and assignments.rep_email is null
),

ranked as (
    select
        *,
        row_number() over (partition by rep_id order by precedence) as candidate_rank
    from candidates
),

final as (
    select
        reps.rep_id,
        ranked.sales_role,
        ranked.role_basis,
        coalesce(role_definitions.is_quota_carrying, false) as is_quota_carrying,
        schedules.ramp_months
    from reps
    left join ranked
        on reps.rep_id = ranked.rep_id
            and ranked.candidate_rank = 1
    left join {{ ref('sales_roles') }} as role_definitions
        on ranked.sales_role = role_definitions.sales_role
    left join schedules
        on ranked.sales_role = schedules.sales_role
)

select * from final
