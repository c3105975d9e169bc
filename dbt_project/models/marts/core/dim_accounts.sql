{#-
    One row per account (Salesforce accounts, HubSpot companies). Segment and region come from
    the account, else from its owner; annual revenue is converted to the corporate currency at
    the rate of the as-of date; a customer is an account with a won deal.
-#}

with

accounts as (
    select * from {{ ref('int_accounts_unioned') }}
),

wins as (
    select
        account_id,
        min(close_date) as first_won_date
    from {{ ref('int_opportunities_unioned') }}
    where is_won
        and close_date <= {{ as_of_date() }}
    group by account_id
),

reps as (
    select * from {{ ref('int_reps_unioned') }}
),

final as (
    select
        accounts.account_id,
        accounts.account_name,
        accounts.account_type,
        accounts.industry,
        coalesce(accounts.segment, reps.segment) as segment,
        coalesce(accounts.region, reps.region) as region,
        accounts.country,
        accounts.territory_id,
        accounts.owner_rep_id,
        accounts.parent_account_id,
        {{ converted_amount('accounts.annual_revenue', 'accounts.currency_code') }}
            as annual_revenue_amount,
        accounts.employee_count,
        wins.first_won_date is not null as is_customer,
        wins.first_won_date,
        accounts.created_at,
        accounts.source_system
    from accounts
    left join wins
        on accounts.account_id = wins.account_id
    left join reps
        on accounts.owner_rep_id = reps.rep_id
    {{ convert_currency_joins('accounts.currency_code', as_of_date()) }}
)

select * from final
