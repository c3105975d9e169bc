{{ config(materialized='table', post_hook="{{ salesops.quota_raise_on_seed_problems() }}") }}

{#-
    One row per problem found in the quota, ramp and commission seeds (dbt_project/seeds/quota/):
    empty when they are all valid. The post-hook stops the build with a message that names every
    bad row, so the quota and commission models downstream never run on a bad seed. Rows of a
    CRM switched off in var salesops_sources are not checked against reps or teams.
-#}

{%- set crms = [] -%}
{%- for crm in ['salesforce', 'hubspot'] if source_enabled(crm) -%}
{%- do crms.append("'" ~ crm ~ "'") -%}
{%- endfor -%}
{%- set enabled_crms = (crms | join(', ')) if crms else "''" -%}
{%- set text = dbt.type_string() -%}
{%- set messages = {
    'unknown_rep': dbt.concat(["'unknown rep: no '", '@source_system', "' rep has this email'"]),
    'ambiguous_rep': dbt.concat(["'ambiguous rep: several '", '@source_system',
                                 "' reps have this email'"]),
    'unknown_team': dbt.concat(["'unknown team: no '", '@source_system', "' rep is in this team'"]),
    'unknown_period': "'unknown fiscal period: use a fiscal quarter (FY2026-Q1) or month "
                      ~ "(FY2026-M01) label'",
    'negative_quota': dbt.concat(["'negative or missing quota: quota_amount = '",
                                  "coalesce(" ~ salesops.number_to_text('@quota_amount') ~ ", 'NULL')"]),
    'unknown_currency': dbt.concat(["'unknown currency '", '@currency_code']),
    'unknown_role': dbt.concat(["'unknown sales_role '", "coalesce(@sales_role, 'NULL')"]),
    'unknown_plan': dbt.concat(["'unknown plan_id '", "coalesce(@plan_id, 'NULL')"]),
    'bad_decelerator': "'a decelerator needs decelerator_below_attainment > 0, "
                       ~ "decelerator_rate_multiplier in [0, 1] and decelerator_is_retroactive'",
    'tiers_out_of_order': "'tiers out of order: each tier must start above the previous one "
                          ~ "and tiers are numbered 1, 2, 3 without gaps'",
    'overlap': dbt.concat(["'overlapping plan periods for one sales role: overlaps '",
                           'others_row_key']),
} %}

with

reps as (
    select
        rep_id,
        source_system,
        team,
        lower(email) as email,
        coalesce(role_name, team) as crm_role_or_team
    from {{ ref('int_reps_unioned') }}
),

rep_emails as (
    select
        source_system,
        email,
        count(*) as reps
    from reps
    group by source_system, email
),

rep_teams as (
    select distinct
        source_system,
        team
    from reps
),

fiscal_periods as (
    select distinct
        fiscal_month as fiscal_period,
        'month' as period_type
    from {{ ref('int_fiscal_months_spined') }}
    union all
    select distinct
        fiscal_quarter as fiscal_period,
        'quarter' as period_type
    from {{ ref('int_fiscal_months_spined') }}
),

fiscal_quarters as (
    select fiscal_period
    from fiscal_periods
    where period_type = 'quarter'
),

currencies as (
    select distinct currency_code
    from {{ ref('int_conversion_rates_dated') }}
),

sales_roles as (
    select
        *,
        {{ dbt.concat(["'(sales_role='", "coalesce(sales_role, '')", "')'"]) }} as row_key,
        count(*) over (partition by sales_role) as duplicates
    from {{ ref('sales_roles') }}
),

known_roles as (
    select distinct sales_role
    from sales_roles
    where sales_role is not null
),

-- quota_plan ----------------------------------------------------------------------------------
quota_plan as (
    select
        *,
        {{ dbt.concat([
            "'(source_system='", "coalesce(source_system, '')",
            "case when rep_email is not null then ', rep_email=' else '' end",
            "coalesce(rep_email, '')",
            "case when team is not null then ', team=' else '' end",
            "coalesce(team, '')",
            "', fiscal_period='", "coalesce(fiscal_period, '')", "')'",
        ]) }} as row_key,
        count(*) over (
            partition by source_system, lower(rep_email), team, fiscal_period
        ) as duplicates
    from {{ ref('quota_plan') }}
),

quota_plan_checks as (
    select
        quota_plan.row_key,
        case
            when quota_plan.source_system is null
                or quota_plan.source_system not in ('salesforce', 'hubspot')
                then 'source_system must be salesforce or hubspot'
        end as source_problem,
        case
            when (quota_plan.rep_email is null) = (quota_plan.team is null)
                then 'set exactly one of rep_email and team'
        end as key_problem,
        case
            when quota_plan.rep_email is not null
                and quota_plan.source_system in ({{ enabled_crms }})
                and rep_emails.email is null
                then {{ messages.unknown_rep | replace('@', 'quota_plan.') }}
            when rep_emails.reps > 1
                then {{ messages.ambiguous_rep | replace('@', 'quota_plan.') }}
        end as rep_problem,
        case
            when quota_plan.team is not null
                and quota_plan.source_system in ({{ enabled_crms }})
                and rep_teams.team is null
                then {{ messages.unknown_team | replace('@', 'quota_plan.') }}
        end as team_problem,
        case
            when fiscal_periods.fiscal_period is null
                then {{ messages.unknown_period | replace('@', 'quota_plan.') }}
        end as period_problem,
        case
            when quota_plan.quota_amount is null or quota_plan.quota_amount < 0
                then {{ messages.negative_quota | replace('@', 'quota_plan.') }}
        end as amount_problem,
        case
            when quota_plan.currency_code is not null and currencies.currency_code is null
                then {{ messages.unknown_currency | replace('@', 'quota_plan.') }}
        end as currency_problem,
        case
            when quota_plan.duplicates > 1
                then 'duplicate row: the same rep or team and fiscal period appear more than once'
        end as duplicate_problem
    from quota_plan
    left join rep_emails
        on quota_plan.source_system = rep_emails.source_system
            and lower(quota_plan.rep_email) = rep_emails.email
    left join rep_teams
        on quota_plan.source_system = rep_teams.source_system
            and quota_plan.team = rep_teams.team
    left join fiscal_periods
        on quota_plan.fiscal_period = fiscal_periods.fiscal_period
    left join currencies
        on upper(quota_plan.currency_code) = currencies.currency_code
),

-- sales_roles and sales_role_assignments ------------------------------------------------------
sales_role_checks as (
    select
        row_key,
        case when sales_role is null then 'missing sales_role' end as role_problem,
        case when duplicates > 1 then 'duplicate sales_role' end as duplicate_problem
    from sales_roles
),

role_assignments as (
    select
        *,
        {{ dbt.concat([
            "'(source_system='", "coalesce(source_system, '')",
            "case when crm_role_or_team is not null then ', crm_role_or_team=' else '' end",
            "coalesce(crm_role_or_team, '')",
            "case when rep_email is not null then ', rep_email=' else '' end",
            "coalesce(rep_email, '')", "')'",
        ]) }} as row_key,
        count(*) over (
            partition by source_system, crm_role_or_team, lower(rep_email)
        ) as duplicates
    from {{ ref('sales_role_assignments') }}
),

role_assignment_checks as (
    select
        role_assignments.row_key,
        case
            when role_assignments.source_system is null
                or role_assignments.source_system not in ('salesforce', 'hubspot')
                then 'source_system must be salesforce or hubspot'
        end as source_problem,
        case
            when (role_assignments.crm_role_or_team is null) = (role_assignments.rep_email is null)
                then 'set exactly one of crm_role_or_team and rep_email'
        end as key_problem,
        case
            when role_assignments.rep_email is not null
                and role_assignments.source_system in ({{ enabled_crms }})
                and rep_emails.email is null
                then {{ messages.unknown_rep | replace('@', 'role_assignments.') }}
        end as rep_problem,
        case
            when known_roles.sales_role is null
                then {{ messages.unknown_role | replace('@', 'role_assignments.') }}
        end as role_problem,
        case when role_assignments.duplicates > 1 then 'duplicate row' end as duplicate_problem
    from role_assignments
    left join rep_emails
        on role_assignments.source_system = rep_emails.source_system
            and lower(role_assignments.rep_email) = rep_emails.email
    left join known_roles
        on role_assignments.sales_role = known_roles.sales_role
),

-- ramp_schedules ------------------------------------------------------------------------------
ramp as (
    select
        *,
        {{ dbt.concat([
            "'(sales_role='", "coalesce(sales_role, '')",
            "', tenure_month='", "coalesce(cast(tenure_month as " ~ text ~ "), '')", "')'",
        ]) }} as row_key,
        count(*) over (partition by sales_role, tenure_month) as duplicates,
        count(*) over (partition by sales_role) as schedule_rows,
        max(tenure_month) over (partition by sales_role) as last_tenure_month
    from {{ ref('ramp_schedules') }}
),

ramp_checks as (
    select
        ramp.row_key,
        case
            when known_roles.sales_role is null
                then {{ messages.unknown_role | replace('@', 'ramp.') }}
        end as role_problem,
        case
            when ramp.tenure_month is null or ramp.tenure_month < 1
                then 'tenure_month must be a whole number from 1'
        end as tenure_problem,
        case
            when ramp.ramp_pct is null or ramp.ramp_pct < 0 or ramp.ramp_pct > 1
                then 'ramp_pct must be between 0 and 1'
        end as share_problem,
        case when ramp.duplicates > 1 then 'duplicate tenure month' end as duplicate_problem,
        case
            when ramp.duplicates = 1
                and ramp.tenure_month = ramp.last_tenure_month
                and ramp.schedule_rows != ramp.last_tenure_month
                then 'the schedule skips a tenure month: list months 1, 2, 3... without gaps'
        end as gap_problem
    from ramp
    left join known_roles
        on ramp.sales_role = known_roles.sales_role
),

-- commission_plans and commission_plan_tiers --------------------------------------------------
plans as (
    select
        *,
        {{ dbt.concat(["'(plan_id='", "coalesce(plan_id, '')", "')'"]) }} as row_key,
        count(*) over (partition by plan_id) as duplicates
    from {{ ref('commission_plans') }}
),

tiered_plans as (
    select distinct plan_id
    from {{ ref('commission_plan_tiers') }}
    where plan_id is not null
),

plan_checks as (
    select
        plans.row_key,
        case
            when plans.plan_id is null or plans.duplicates > 1 then 'duplicate or missing plan_id'
        end as key_problem,
        case
            when plans.attainment_basis is null
                or plans.attainment_basis not in ('quarter', 'year_to_date')
                then 'attainment_basis must be quarter or year_to_date'
        end as basis_problem,
        case
            when plans.cap_type is null or plans.cap_type not in ('none', 'payout', 'attainment')
                then 'cap_type must be none, payout or attainment'
            when plans.cap_type in ('payout', 'attainment')
                and (plans.cap_value is null or plans.cap_value <= 0)
                then 'a payout or attainment cap needs a positive cap_value'
        end as cap_problem,
        case
            when (
                plans.decelerator_below_attainment is not null
                or plans.decelerator_rate_multiplier is not null
                or plans.decelerator_is_retroactive is not null
            )
            and (
                plans.decelerator_below_attainment is null
                or plans.decelerator_below_attainment <= 0
                or plans.decelerator_rate_multiplier is null
                or plans.decelerator_rate_multiplier < 0
                or plans.decelerator_rate_multiplier > 1
                or plans.decelerator_is_retroactive is null
            )
                then {{ messages.bad_decelerator }}
        end as decelerator_problem,
        case
            when tiered_plans.plan_id is null then 'the plan has no tiers in commission_plan_tiers'
        end as tier_problem
    from plans
    left join tiered_plans
        on plans.plan_id = tiered_plans.plan_id
),

tiers as (
    select
        *,
        {{ dbt.concat([
            "'(plan_id='", "coalesce(plan_id, '')",
            "', tier='", "coalesce(cast(tier as " ~ text ~ "), '')", "')'",
        ]) }} as row_key,
        count(*) over (partition by plan_id, tier) as duplicates,
        lag(lower_attainment) over (partition by plan_id order by tier)
            as previous_lower_attainment,
        lag(tier) over (partition by plan_id order by tier) as previous_tier
    from {{ ref('commission_plan_tiers') }}
),

known_plans as (
    select distinct plan_id
    from plans
    where plan_id is not null
),

tier_checks as (
    select
        tiers.row_key,
        case when known_plans.plan_id is null then 'unknown plan_id' end as plan_problem,
        case
            when tiers.tier is null or tiers.tier not in (1, 2, 3) then 'tier must be 1, 2 or 3'
        end as number_problem,
        case when tiers.duplicates > 1 then 'duplicate tier' end as duplicate_problem,
        case
            when tiers.tier = 1 and (tiers.lower_attainment is null or tiers.lower_attainment != 0)
                then 'tier 1 must start at attainment 0'
        end as start_problem,
        case
            when tiers.duplicates = 1
                and tiers.tier > 1
                and (
                    tiers.previous_tier is null
                    or tiers.previous_tier != tiers.tier - 1
                    or tiers.lower_attainment is null
                    or tiers.lower_attainment <= tiers.previous_lower_attainment
                )
                then {{ messages.tiers_out_of_order }}
        end as order_problem,
        case when tiers.rate is null or tiers.rate < 0 then 'rate must be 0 or more' end
            as rate_problem
    from tiers
    left join known_plans
        on tiers.plan_id = known_plans.plan_id
),

-- commission_plan_assignments -----------------------------------------------------------------
plan_assignments as (
    select
        *,
        {{ dbt.concat([
            "'(sales_role='", "coalesce(sales_role, '')",
            "', plan_id='", "coalesce(plan_id, '')",
            "', first_fiscal_quarter='", "coalesce(first_fiscal_quarter, '')",
            "', last_fiscal_quarter='", "coalesce(last_fiscal_quarter, '')", "')'",
        ]) }} as row_key,
        coalesce(last_fiscal_quarter, 'FY9999-Q9') as last_quarter_or_open
    from {{ ref('commission_plan_assignments') }}
),

plan_assignment_checks as (
    select
        plan_assignments.row_key,
        case
            when known_roles.sales_role is null
                then {{ messages.unknown_role | replace('@', 'plan_assignments.') }}
        end as role_problem,
        case
            when known_plans.plan_id is null
                then {{ messages.unknown_plan | replace('@', 'plan_assignments.') }}
        end as plan_problem,
        case
            when first_quarters.fiscal_period is null
                or (
                    plan_assignments.last_fiscal_quarter is not null
                    and last_quarters.fiscal_period is null
                )
                then 'unknown fiscal quarter: use labels like FY2026-Q1'
            when plan_assignments.last_fiscal_quarter < plan_assignments.first_fiscal_quarter
                then 'last_fiscal_quarter is before first_fiscal_quarter'
        end as period_problem
    from plan_assignments
    left join known_roles
        on plan_assignments.sales_role = known_roles.sales_role
    left join known_plans
        on plan_assignments.plan_id = known_plans.plan_id
    left join fiscal_quarters as first_quarters
        on plan_assignments.first_fiscal_quarter = first_quarters.fiscal_period
    left join fiscal_quarters as last_quarters
        on plan_assignments.last_fiscal_quarter = last_quarters.fiscal_period
),

overlapping_pairs as (
    select
        assignments.row_key,
        other_assignments.row_key as others_row_key
    from plan_assignments as assignments
    inner join plan_assignments as other_assignments
        on assignments.sales_role = other_assignments.sales_role
            and assignments.row_key != other_assignments.row_key
            and assignments.first_fiscal_quarter <= other_assignments.last_quarter_or_open
            and assignments.last_quarter_or_open >= other_assignments.first_fiscal_quarter
),

plan_assignment_overlaps as (
    select
        row_key,
        {{ messages.overlap | replace('@', '') }} as overlap_problem
    from overlapping_pairs
),

{%- set checks = [
    ('quota_plan', 'quota_plan_checks', ['source_problem', 'key_problem', 'rep_problem',
        'team_problem', 'period_problem', 'amount_problem', 'currency_problem',
        'duplicate_problem']),
    ('sales_roles', 'sales_role_checks', ['role_problem', 'duplicate_problem']),
    ('sales_role_assignments', 'role_assignment_checks', ['source_problem', 'key_problem',
        'rep_problem', 'role_problem', 'duplicate_problem']),
    ('ramp_schedules', 'ramp_checks', ['role_problem', 'tenure_problem', 'share_problem',
        'duplicate_problem', 'gap_problem']),
    ('commission_plans', 'plan_checks', ['key_problem', 'basis_problem', 'cap_problem',
        'decelerator_problem', 'tier_problem']),
    ('commission_plan_tiers', 'tier_checks', ['plan_problem', 'number_problem',
        'duplicate_problem', 'start_problem', 'order_problem', 'rate_problem']),
    ('commission_plan_assignments', 'plan_assignment_checks', ['role_problem', 'plan_problem',
        'period_problem']),
    ('commission_plan_assignments', 'plan_assignment_overlaps', ['overlap_problem']),
] %}

problems as (
    {%- for seed_name, relation, columns in checks %}
    {%- set outer_last = loop.last %}
    {%- for column in columns %}
    select
        '{{ seed_name }}' as seed_name,
        row_key,
        {{ column }} as problem
    from {{ relation }}
    where {{ column }} is not null
    {%- if not (outer_last and loop.last) %}
    union all
    {%- endif %}
    {%- endfor %}
    {%- endfor %}
)

select
    seed_name,
    row_key,
    problem
from problems
