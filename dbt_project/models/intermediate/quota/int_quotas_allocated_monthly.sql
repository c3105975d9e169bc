{{ config(materialized='table') }}

{#-
    Full (unramped) quota per rep and fiscal month in the corporate currency, from every quota
    source, with an explicit precedence (the first that has the rep and month wins):

      1. quota_plan seed, rep row (source_system + rep_email), monthly    quota_plan_rep_month
      2. quota_plan seed, rep row, quarterly                               quota_plan_rep_quarter
      3. quota_plan seed, team row, monthly                                quota_plan_team_month
      4. quota_plan seed, team row, quarterly                              quota_plan_team_quarter
      5. Salesforce ForecastingQuota (quarterly, by the fiscal quarter     salesforce_forecasting_quota
         of its StartDate; several rows in a quarter add up)

    A quarterly quota splits evenly into its three months; a monthly quota replaces its month's
    third. A team row gives each quota-carrying member of the team (team as of the month end,
    employed at some point in the month) that amount. Seed amounts convert at the rate of the
    period's first day, ForecastingQuota at the rate of its StartDate. Months run through the end
    of the as-of date's fiscal year, or of the next fiscal quarter if that is later.
-#}

-- depends_on: {{ ref('int_quota_seed_rows_validated') }}

with

as_of_periods as (
    -- months run through the end of the as-of fiscal year or of the next fiscal quarter
    select
        cast({{ dbt.dateadd('month', 3, fiscal_period_start('quarter',
                                                            dbt.dateadd('month', 3, as_of_date()))) }}
            as date) as horizon_end_quarter,
        cast({{ dbt.dateadd('month', 12, fiscal_period_start('year', as_of_date())) }} as date)
            as horizon_end_year
),

months as (
    select
        months.fiscal_year,
        months.fiscal_quarter,
        months.fiscal_month,
        months.period_start,
        months.period_end,
        months.quarter_start,
        months.quarter_end,
        case
            when months.period_end < {{ as_of_date() }} then months.period_end
            else {{ as_of_date() }}
        end as snapshot_date,
        -- the first instant after the snapshot day: states valid just before it
        case
            when months.period_end < {{ as_of_date() }}
                then cast({{ dbt.dateadd('day', 1, 'months.period_end') }} as {{ dbt.type_timestamp() }})  -- noqa: LT05
            else {{ as_of_end_timestamp() }}
        end as snapshot_end_at
    from {{ ref('int_fiscal_months_spined') }} as months
    cross join as_of_periods
    where months.period_start < as_of_periods.horizon_end_quarter
        or months.period_start < as_of_periods.horizon_end_year
),

reps as (
    select * from {{ ref('int_reps_unioned') }}
),

roles as (
    select * from {{ ref('int_sales_roles_assigned') }}
),

plan as (
    select
        source_system,
        lower(rep_email) as rep_email,
        team,
        fiscal_period,
        quota_amount,
        upper(coalesce(currency_code, '{{ var("corporate_currency") }}')) as currency_code
    from {{ ref('quota_plan') }}
    where source_system in (
        {%- for crm in ['salesforce', 'hubspot'] if source_enabled(crm) %}
        '{{ crm }}'{% if not loop.last %}, {% endif %}
        {%- else %}
        ''
        {%- endfor %}
    )
),

plan_months as (
    -- each seed row on the months it covers, in the corporate currency
    select
        plan.source_system,
        plan.rep_email,
        plan.team,
        months.fiscal_month,
        case when plan.fiscal_period = months.fiscal_month then 'month' else 'quarter' end
            as granularity,
        {{ converted_amount('plan.quota_amount', 'plan.currency_code') }}
        / nullif(case when plan.fiscal_period = months.fiscal_month then 1 else 3 end, 0)
            as quota_amount
    from plan
    inner join months
        on plan.fiscal_period = months.fiscal_month
            or plan.fiscal_period = months.fiscal_quarter
    {{ convert_currency_joins(
        'plan.currency_code',
        'case when plan.fiscal_period = months.fiscal_month'
        ~ ' then months.period_start else months.quarter_start end'
    ) }}
),

rep_months as (
    -- every rep in every month of their employment, with the team as of the month end
    select
        reps.rep_id,
        reps.source_system,
        lower(reps.email) as email,
        months.fiscal_month,
        case when history.rep_id is not null then history.team else reps.team end as team
    from reps
    inner join months
        on (reps.hire_date is null or reps.hire_date <= months.period_end)
            and (reps.termination_date is null or reps.termination_date >= months.period_start)
    left join {{ ref('int_reps_historized') }} as history
        on reps.rep_id = history.rep_id
            and months.snapshot_end_at > history.valid_from
            and (history.valid_to is null or months.snapshot_end_at <= history.valid_to)
),

rep_rows as (
    select
        reps.rep_id,
        plan_months.fiscal_month,
        plan_months.quota_amount,
        {{ dbt.concat(["'quota_plan_rep_'", 'plan_months.granularity']) }} as quota_source,
        case when plan_months.granularity = 'month' then 1 else 2 end as precedence
    from plan_months
    inner join reps
        on plan_months.source_system = reps.source_system
            and plan_months.rep_email = lower(reps.email)
    where plan_months.rep_email is not null
),

team_rows as (
    select
        rep_months.rep_id,
        plan_months.fiscal_month,
        plan_months.quota_amount,
        {{ dbt.concat(["'quota_plan_team_'", 'plan_months.granularity']) }} as quota_source,
        case when plan_months.granularity = 'month' then 3 else 4 end as precedence
    from plan_months
    inner join rep_months
        on plan_months.source_system = rep_months.source_system
            and plan_months.team = rep_months.team
            and plan_months.fiscal_month = rep_months.fiscal_month
    inner join roles
        on rep_months.rep_id = roles.rep_id
    where plan_months.team is not null
        and roles.is_quota_carrying
),

{% if source_enabled('salesforce') %}
salesforce_quarters as (
    select
        quotas.rep_id,
        {{ fiscal_period_start('quarter', 'quotas.start_date') }} as quarter_start,
        sum({{ converted_amount('quotas.quota_amount', 'quotas.currency_code') }}) as quota_amount
    from {{ ref('stg_salesforce__forecasting_quotas') }} as quotas
    {{ convert_currency_joins('quotas.currency_code', 'quotas.start_date') }}
    group by 1, 2
),

salesforce_rows as (
    select
        salesforce_quarters.rep_id,
        months.fiscal_month,
        salesforce_quarters.quota_amount / 3 as quota_amount,
        'salesforce_forecasting_quota' as quota_source,
        5 as precedence
    from salesforce_quarters
    inner join months
        on salesforce_quarters.quarter_start = months.quarter_start
),
{% else %}
salesforce_rows as (
    select
        cast(null as {{ dbt.type_string() }}) as rep_id,
        cast(null as {{ dbt.type_string() }}) as fiscal_month,
        cast(null as {{ type_double() }}) as quota_amount,
        cast(null as {{ dbt.type_string() }}) as quota_source,
        5 as precedence
    {{ empty_relation_filter() }}
),
{% endif %}

candidates as (
    select * from rep_rows
    union all
    select * from team_rows
    union all
    select * from salesforce_rows
),

ranked as (
    select
        *,
        row_number() over (
            partition by rep_id, fiscal_month order by precedence
        ) as candidate_rank
    from candidates
),

final as (
    select
        ranked.rep_id,
        months.fiscal_year,
        months.fiscal_quarter,
        months.fiscal_month,
        months.period_start,
        months.period_end,
        months.quarter_start,
        months.quarter_end,
        ranked.quota_amount,
        ranked.quota_source
    from ranked
    inner join months
        on ranked.fiscal_month = months.fiscal_month
    where ranked.candidate_rank = 1
)

select * from final
