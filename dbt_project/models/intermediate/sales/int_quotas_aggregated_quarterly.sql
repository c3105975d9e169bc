{#-
    Full (unramped) quota per rep and fiscal quarter in the corporate currency: the monthly
    quotas of int_quotas_allocated_monthly summed by quarter, so every mart that shows quota
    (mart_sales_kpis, mart_forecast, mart_quota_attainment) agrees on one number with the same
    source precedence (quota plan seed for HubSpot reps and overrides, then Salesforce
    ForecastingQuota). Rounded to the cent: a quarter split into thirds sums back exactly.
-#}

with

monthly as (
    select
        rep_id,
        fiscal_quarter,
        quota_amount
    from {{ ref('int_quotas_allocated_monthly') }}
),

aggregated as (
    select
        rep_id,
        fiscal_quarter,
        {{ round_to_cents('sum(quota_amount)') }} as quota_amount
    from monthly
    group by rep_id, fiscal_quarter
)

select * from aggregated
