{#-
    Recurring revenue by account and fiscal quarter, with a company row per quarter (level
    `company`, account_id NULL) that carries net and gross revenue retention (sales-metrics §10).

    ARR of an account on a day = Σ arr_amount of its won terms (int_contract_terms_resolved)
    that cover the day: start date <= day <= effective end date. A quarter's starting ARR is the
    ARR at the end of the day before it starts (= the previous quarter's ending ARR); its ending
    ARR is the ARR at the end of its last day, or of the as-of date for the current quarter.

    The quarter's change splits per account: new (no ARR at the start), expansion (more ARR at
    the end), contraction (less, but not none), churned (none at the end: all its starting ARR),
    so starting + new + expansion - contraction - churned = ending for every row.

    Retention is measured over a trailing window of var `retention_window_months` (12) ending
    with the quarter. The cohort is the accounts with ARR > 0 at the end of the day before the
    window starts; new logos gained during the window are in neither numerator nor denominator:
        NRR = cohort ending ARR ÷ cohort starting ARR
            = (start + expansion - contraction - churn) ÷ start
        GRR = (cohort starting ARR - contraction - churn) ÷ cohort starting ARR
    with expansion, contraction and churn netted per cohort account over the window. The cohort
    columns are on account rows too, so any account grouping rolls up the same way.
-#}

{%- set window_months = var('retention_window_months', 12) | int %}

with

terms as (
    select * from {{ ref('int_contract_terms_resolved') }}
),

quarters as (
    select
        fiscal_quarter,
        min(quarter_start) as period_start,
        max(quarter_end) as period_end
    from {{ ref('int_fiscal_months_spined') }}
    group by fiscal_quarter
),

reported as (
    -- from the quarter of the first term through the quarter of the as-of date
    select
        fiscal_quarter,
        period_start,
        period_end,
        cast({{ dbt.dateadd('day', -1, 'period_start') }} as date) as starting_arr_date,
        case
            when period_end < {{ as_of_date() }} then period_end else {{ as_of_date() }}
        end as ending_arr_date,
        cast(
            {{ dbt.dateadd('month', -window_months, dbt.dateadd('day', 1, 'period_end')) }} as date
        ) as retention_window_start
    from quarters
    where period_start <= {{ as_of_date() }}
        and period_end >= (select min(terms.term_start_date) from terms)
),

points as (
    select
        fiscal_quarter,
        'starting' as measure_point,
        starting_arr_date as measured_on
    from reported
    union all
    select
        fiscal_quarter,
        'ending' as measure_point,
        ending_arr_date as measured_on
    from reported
    union all
    select
        fiscal_quarter,
        'cohort' as measure_point,
        cast({{ dbt.dateadd('day', -1, 'retention_window_start') }} as date) as measured_on
    from reported
),

arr as (
    select
        points.fiscal_quarter,
        terms.account_id,
        terms.source_system,
        sum(case when points.measure_point = 'starting' then terms.arr_amount else 0 end)
            as starting_arr_amount,
        sum(case when points.measure_point = 'ending' then terms.arr_amount else 0 end)
            as ending_arr_amount,
        sum(case when points.measure_point = 'cohort' then terms.arr_amount else 0 end)
            as cohort_starting_arr_amount
    from points
    inner join terms
        on points.measured_on >= terms.term_start_date
            and points.measured_on <= terms.effective_end_date
    group by points.fiscal_quarter, terms.account_id, terms.source_system
),

accounts as (
    select
        'account' as level,  -- noqa: RF04
        arr.account_id,
        arr.fiscal_quarter,
        arr.starting_arr_amount,
        case
            when arr.starting_arr_amount = 0 then arr.ending_arr_amount else 0
        end as new_arr_amount,
        case
            when arr.starting_arr_amount > 0 and arr.ending_arr_amount > arr.starting_arr_amount
                then arr.ending_arr_amount - arr.starting_arr_amount
            else 0
        end as expansion_arr_amount,
        case
            when arr.ending_arr_amount > 0 and arr.ending_arr_amount < arr.starting_arr_amount
                then arr.starting_arr_amount - arr.ending_arr_amount
            else 0
        end as contraction_arr_amount,
        case
            when arr.starting_arr_amount > 0 and arr.ending_arr_amount = 0
                then arr.starting_arr_amount
            else 0
        end as churned_arr_amount,
        arr.ending_arr_amount,
        case when arr.cohort_starting_arr_amount > 0 then 1 else 0 end as cohort_accounts,
        case
            when arr.cohort_starting_arr_amount > 0 then arr.cohort_starting_arr_amount else 0
        end as cohort_starting_arr_amount,
        case
            when arr.cohort_starting_arr_amount > 0 then arr.ending_arr_amount else 0
        end as cohort_ending_arr_amount,
        case
            when
                arr.cohort_starting_arr_amount > 0
                and arr.ending_arr_amount > arr.cohort_starting_arr_amount
                then arr.ending_arr_amount - arr.cohort_starting_arr_amount
            else 0
        end as cohort_expansion_arr_amount,
        case
            when
                arr.ending_arr_amount > 0
                and arr.ending_arr_amount < arr.cohort_starting_arr_amount
                then arr.cohort_starting_arr_amount - arr.ending_arr_amount
            else 0
        end as cohort_contraction_arr_amount,
        case
            when arr.cohort_starting_arr_amount > 0 and arr.ending_arr_amount = 0
                then arr.cohort_starting_arr_amount
            else 0
        end as cohort_churned_arr_amount,
        arr.source_system
    from arr
    where arr.starting_arr_amount > 0
        or arr.ending_arr_amount > 0
        or arr.cohort_starting_arr_amount > 0
),

company as (
    select
        'company' as level,  -- noqa: RF04
        cast(null as {{ dbt.type_string() }}) as account_id,
        reported.fiscal_quarter,
        coalesce(sum(accounts.starting_arr_amount), 0) as starting_arr_amount,
        coalesce(sum(accounts.new_arr_amount), 0) as new_arr_amount,
        coalesce(sum(accounts.expansion_arr_amount), 0) as expansion_arr_amount,
        coalesce(sum(accounts.contraction_arr_amount), 0) as contraction_arr_amount,
        coalesce(sum(accounts.churned_arr_amount), 0) as churned_arr_amount,
        coalesce(sum(accounts.ending_arr_amount), 0) as ending_arr_amount,
        coalesce(sum(accounts.cohort_accounts), 0) as cohort_accounts,
        coalesce(sum(accounts.cohort_starting_arr_amount), 0) as cohort_starting_arr_amount,
        coalesce(sum(accounts.cohort_ending_arr_amount), 0) as cohort_ending_arr_amount,
        coalesce(sum(accounts.cohort_expansion_arr_amount), 0) as cohort_expansion_arr_amount,
        coalesce(sum(accounts.cohort_contraction_arr_amount), 0)
            as cohort_contraction_arr_amount,
        coalesce(sum(accounts.cohort_churned_arr_amount), 0) as cohort_churned_arr_amount,
        cast(null as {{ dbt.type_string() }}) as source_system
    from reported
    left join accounts
        on reported.fiscal_quarter = accounts.fiscal_quarter
    group by reported.fiscal_quarter
),

unioned as (
    select * from accounts
    union all
    select * from company
),

final as (
    select
        unioned.level,
        unioned.account_id,
        unioned.fiscal_quarter,
        reported.period_start,
        reported.period_end,
        reported.ending_arr_date as arr_measured_on,
        cast(unioned.starting_arr_amount as {{ type_double() }}) as starting_arr_amount,
        cast(unioned.new_arr_amount as {{ type_double() }}) as new_arr_amount,
        cast(unioned.expansion_arr_amount as {{ type_double() }}) as expansion_arr_amount,
        cast(unioned.contraction_arr_amount as {{ type_double() }}) as contraction_arr_amount,
        cast(unioned.churned_arr_amount as {{ type_double() }}) as churned_arr_amount,
        cast(unioned.ending_arr_amount as {{ type_double() }}) as ending_arr_amount,
        reported.retention_window_start,
        {{ window_months }} as retention_window_months,
        cast(unioned.cohort_accounts as {{ dbt.type_bigint() }}) as cohort_accounts,
        cast(unioned.cohort_starting_arr_amount as {{ type_double() }})
            as cohort_starting_arr_amount,
        cast(unioned.cohort_ending_arr_amount as {{ type_double() }}) as cohort_ending_arr_amount,
        cast(unioned.cohort_expansion_arr_amount as {{ type_double() }})
            as cohort_expansion_arr_amount,
        cast(unioned.cohort_contraction_arr_amount as {{ type_double() }})
            as cohort_contraction_arr_amount,
        cast(unioned.cohort_churned_arr_amount as {{ type_double() }})
            as cohort_churned_arr_amount,
        case
            when unioned.level = 'company'
                then {{ safe_divide('unioned.cohort_ending_arr_amount',
                                    'unioned.cohort_starting_arr_amount') }}
        end as net_revenue_retention,
        case
            when unioned.level = 'company'
                then {{ safe_divide(
                    'unioned.cohort_starting_arr_amount - unioned.cohort_contraction_arr_amount'
                    ~ ' - unioned.cohort_churned_arr_amount',
                    'unioned.cohort_starting_arr_amount') }}
        end as gross_revenue_retention,
        unioned.source_system,
        {{ as_of_date() }} as as_of_date
    from unioned
    inner join reported
        on unioned.fiscal_quarter = reported.fiscal_quarter
)

select * from final
