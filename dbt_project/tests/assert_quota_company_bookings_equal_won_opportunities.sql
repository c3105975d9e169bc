{#-
    Company bookings in mart_quota_rollup equal the won opportunities of fct_opportunities closed
    in each fiscal month, quarter and year (on or before the as-of date), to the cent. Returns
    the periods that differ.
-#}

with

months as (
    select * from {{ ref('int_fiscal_months_spined') }}
    where period_start <= {{ as_of_date() }}
),

periods as (
    select
        'month' as period_type,
        fiscal_month as fiscal_period,
        period_start,
        period_end
    from months
    union all
    select distinct
        'quarter' as period_type,
        fiscal_quarter as fiscal_period,
        quarter_start as period_start,
        quarter_end as period_end
    from months
    union all
    select
        'year' as period_type,
        {{ dbt.concat(["'FY'", dbt.cast('fiscal_year', dbt.type_string())]) }} as fiscal_period,
        min(period_start) as period_start,
        max(period_end) as period_end
    from months
    group by fiscal_year
),

won as (
    select
        periods.period_type,
        periods.fiscal_period,
        sum(coalesce(opportunities.opportunity_amount, 0)) as bookings_amount
    from {{ ref('fct_opportunities') }} as opportunities
    inner join periods
        on opportunities.close_date between periods.period_start and periods.period_end
    where opportunities.is_won
        and opportunities.close_date <= {{ as_of_date() }}
    group by periods.period_type, periods.fiscal_period
),

company as (
    select
        period_type,
        fiscal_period,
        bookings_amount
    from {{ ref('mart_quota_rollup') }}
    where level = 'company'
)

select
    coalesce(won.period_type, company.period_type) as period_type,
    coalesce(won.fiscal_period, company.fiscal_period) as fiscal_period,
    won.bookings_amount as won_amount,
    company.bookings_amount as company_bookings_amount
from won
full outer join company
    on won.period_type = company.period_type
        and won.fiscal_period = company.fiscal_period
where abs(coalesce(won.bookings_amount, 0) - coalesce(company.bookings_amount, 0)) >= 0.005
