{{ config(materialized='table') }}

{#-
    One row per won deal (new business, expansion or renewal, closed by the as-of date): the
    recurring-revenue term it buys and the annual recurring revenue (ARR) it adds while the term
    runs (sales-metrics §10).

    * Term: Salesforce Contract_Start_Date__c / Contract_End_Date__c, HubSpot contract_start_date
      / contract_end_date; without them the term starts on the close date and runs var
      `default_term_months` (12) months.
    * ARR = amount in the corporate currency, converted at the rate of the close date (as
      fct_opportunities converts closed deals; NULL amounts count 0), × 12 ÷ the term's whole
      months (at least 1): a 12-month term's ARR is its amount.
    * A renewal replaces the term it renews: a renewed term stops the day before its earliest
      won renewal starts (effective_end_date), so renewal and renewed term never overlap.
-#}

{%- set default_term_months = var('default_term_months', 12) | int %}

with

won as (
    select *
    from {{ ref('int_opportunities_unioned') }}
    where is_won
        and close_date <= {{ as_of_date() }}
),

converted as (
    select
        won.opportunity_id,
        won.account_id,
        won.opportunity_type,
        won.renewal_of_opportunity_id,
        won.close_date,
        won.contract_start_date,
        won.contract_end_date,
        coalesce(
            {{ converted_amount('won.original_amount', 'won.currency_code') }},
            won.amount_in_home_currency
        ) as opportunity_amount,
        won.source_system
    from won
    {{ convert_currency_joins('won.currency_code', 'won.close_date') }}
),

terms as (
    select
        *,
        coalesce(contract_start_date, close_date) as term_start_date,
        coalesce(
            contract_end_date,
            cast({{ dbt.dateadd(
                'day', -1,
                dbt.dateadd('month', default_term_months, 'coalesce(contract_start_date, close_date)')
            ) }} as date)
        ) as term_end_date
    from converted
),

measured as (
    select
        *,
        greatest(
            {{ salesops.datediff(
                'term_start_date', dbt.dateadd('day', 1, 'term_end_date'), 'month'
            ) }},
            1
        ) as term_months
    from terms
),

renewals as (
    -- the earliest won renewal of each term
    select
        renewal_of_opportunity_id,
        min(term_start_date) as renewal_start_date
    from measured
    where renewal_of_opportunity_id is not null
    group by renewal_of_opportunity_id
),

final as (
    select
        measured.opportunity_id,
        measured.account_id,
        measured.opportunity_type,
        measured.renewal_of_opportunity_id,
        measured.close_date,
        measured.term_start_date,
        measured.term_end_date,
        case
            when renewals.renewal_start_date <= measured.term_end_date
                then cast({{ dbt.dateadd('day', -1, 'renewals.renewal_start_date') }} as date)
            else measured.term_end_date
        end as effective_end_date,
        measured.term_months,
        coalesce(measured.opportunity_amount, 0) as opportunity_amount,
        case
            when measured.term_months = 12 then coalesce(measured.opportunity_amount, 0)
            else coalesce(measured.opportunity_amount, 0) * 12 / nullif(measured.term_months, 0)
        end as arr_amount,
        renewals.renewal_start_date is not null as is_renewed,
        measured.source_system
    from measured
    left join renewals
        on measured.opportunity_id = renewals.renewal_of_opportunity_id
)

select * from final
