{#-
    The lead funnel by cohort: leads created in a fiscal month from a lead source, and how far
    each has progressed by the as-of date (sales-metrics §7, cohort view). A lead reached a
    stage when it entered it or any later one (skipped stages count as passed): MQL, SQL,
    opportunity (converted), won (its opportunity is won). Rates are step conversions.
-#}

with

leads as (
    select * from {{ ref('fct_leads') }}
    where created_date <= {{ as_of_date() }}
),

opportunities as (
    select
        opportunity_id,
        is_won,
        close_date
    from {{ ref('fct_opportunities') }}
),

months as (
    select * from {{ ref('int_fiscal_months_spined') }}
),

progress as (
    select
        months.fiscal_month,
        months.period_start,
        months.period_end,
        coalesce(leads.lead_source, 'Unknown') as lead_source,
        least(
            coalesce(leads.mql_date, cast('9999-12-31' as date)),
            coalesce(leads.sql_date, cast('9999-12-31' as date)),
            coalesce(leads.converted_date, cast('9999-12-31' as date))
        ) <= {{ as_of_date() }} as is_mql,
        least(
            coalesce(leads.sql_date, cast('9999-12-31' as date)),
            coalesce(leads.converted_date, cast('9999-12-31' as date))
        ) <= {{ as_of_date() }} as is_sql,
        coalesce(leads.converted_date <= {{ as_of_date() }}, false) as is_opportunity,
        coalesce(
            leads.converted_date <= {{ as_of_date() }}
            and opportunities.is_won
            and opportunities.close_date <= {{ as_of_date() }},
            false
        ) as is_won,
        case
            when leads.converted_date <= {{ as_of_date() }}
                then {{ salesops.datediff('leads.created_date', 'leads.converted_date', 'day') }}
        end as days_lead_to_opportunity
    from leads
    inner join months
        on leads.created_date between months.period_start and months.period_end
    left join opportunities
        on leads.converted_opportunity_id = opportunities.opportunity_id
),

aggregated as (
    select
        fiscal_month,
        period_start,
        period_end,
        lead_source,
        count(*) as leads,
        cast(sum(case when is_mql then 1 else 0 end) as {{ dbt.type_bigint() }})
            as mqls,
        cast(sum(case when is_sql then 1 else 0 end) as {{ dbt.type_bigint() }})
            as sqls,
        cast(sum(case when is_opportunity then 1 else 0 end) as {{ dbt.type_bigint() }})
            as opportunities,
        cast(sum(case when is_won then 1 else 0 end) as {{ dbt.type_bigint() }})
            as won,
        {{ median('days_lead_to_opportunity') }} as median_days_lead_to_opportunity
    from progress
    group by 1, 2, 3, 4
),

final as (
    select
        fiscal_month,
        period_start,
        period_end,
        lead_source,
        leads,
        mqls,
        sqls,
        opportunities,
        won,
        {{ safe_divide('mqls', 'leads') }} as lead_to_mql_rate,
        {{ safe_divide('sqls', 'mqls') }} as mql_to_sql_rate,
        {{ safe_divide('opportunities', 'sqls') }} as sql_to_opportunity_rate,
        {{ safe_divide('won', 'opportunities') }} as opportunity_to_won_rate,
        {{ safe_divide('won', 'leads') }} as lead_to_won_rate,
        median_days_lead_to_opportunity,
        {{ as_of_date() }} as as_of_date
    from aggregated
)

select * from final
