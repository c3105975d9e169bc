{#-
    Rollup consistency (mart_quota_rollup): at every level, each entity's quota, ramp-adjusted
    quota and bookings equal the sum over the reps beneath it in mart_quota_attainment (by their
    hierarchy at the period end), and the entities of a level add up to the company. Returns the
    offending rows.
-#}

{%- set levels = {
    'rep': 'rep_id',
    'manager': 'manager_id',
    'team': 'team',
    'region': 'region',
    'company': "'company'",
} %}

with

reps_beneath as (
    {%- for level, column in levels.items() %}
    select
        '{{ level }}' as level,  -- noqa: RF04
        coalesce({{ column }}, 'unassigned') as entity_id,
        period_type,
        fiscal_period,
        sum(quota_amount) as quota_amount,
        sum(ramp_adjusted_quota_amount) as ramp_adjusted_quota_amount,
        sum(bookings_amount) as bookings_amount
    from {{ ref('mart_quota_attainment') }}
    group by 1, 2, 3, 4
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

entity_mismatches as (
    select
        coalesce(rolled.level, reps_beneath.level) as level,  -- noqa: RF04
        coalesce(rolled.entity_id, reps_beneath.entity_id) as entity_id,
        coalesce(rolled.fiscal_period, reps_beneath.fiscal_period) as fiscal_period,
        'entity differs from the sum of its reps' as problem
    from {{ ref('mart_quota_rollup') }} as rolled
    full outer join reps_beneath
        on rolled.level = reps_beneath.level
            and rolled.entity_id = reps_beneath.entity_id
            and rolled.period_type = reps_beneath.period_type
            and rolled.fiscal_period = reps_beneath.fiscal_period
    where rolled.level is null
        or reps_beneath.level is null
        or abs(rolled.quota_amount - reps_beneath.quota_amount) >= 0.005
        or abs(rolled.ramp_adjusted_quota_amount - reps_beneath.ramp_adjusted_quota_amount) >= 0.005
        or abs(rolled.bookings_amount - reps_beneath.bookings_amount) >= 0.005
),

level_totals as (
    select
        level,  -- noqa: RF04
        period_type,
        fiscal_period,
        sum(quota_amount) as quota_amount,
        sum(ramp_adjusted_quota_amount) as ramp_adjusted_quota_amount,
        sum(bookings_amount) as bookings_amount
    from {{ ref('mart_quota_rollup') }}
    group by 1, 2, 3
),

level_mismatches as (
    select
        level_totals.level,  -- noqa: RF04
        cast(null as {{ dbt.type_string() }}) as entity_id,
        level_totals.fiscal_period,
        'level does not add up to the company' as problem
    from level_totals
    inner join level_totals as company
        on company.level = 'company'
            and level_totals.period_type = company.period_type
            and level_totals.fiscal_period = company.fiscal_period
    where abs(level_totals.quota_amount - company.quota_amount) >= 0.005
        or abs(
            level_totals.ramp_adjusted_quota_amount - company.ramp_adjusted_quota_amount
        ) >= 0.005
        or abs(level_totals.bookings_amount - company.bookings_amount) >= 0.005
)

select * from entity_mismatches
union all
select * from level_mismatches
