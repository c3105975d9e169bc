{#-
    Territory coverage per territory and fiscal quarter, as of var as_of_date: Salesforce
    territories, HubSpot owner teams (int_territories_unioned) and one 'unassigned' row per
    quarter for accounts without a territory (and deals without an account), so nothing is
    dropped. Account territories are current (int_account_territories_assigned).

    At the quarter end (the as-of date for the current quarter): accounts = accounts created by
    then; accounts_with_open_pipeline = accounts with open, non-omitted pipeline closing in the
    quarter; whitespace_accounts = accounts with no open, non-omitted pipeline at all and no won
    deal yet; reps = reps assigned to the territory then. Bookings: won deals closed in the
    quarter on the territory's accounts.
-#}

with

accounts as (
    select
        account_id,
        coalesce(territory_id, 'unassigned') as territory_id,
        created_at
    from {{ ref('int_account_territories_assigned') }}
),

quarters as (
    select distinct
        fiscal_quarter,
        quarter_start,
        quarter_end,
        case
            when quarter_end < {{ as_of_date() }} then quarter_end else {{ as_of_date() }}
        end as snapshot_date
    from {{ ref('int_fiscal_months_spined') }}
    where quarter_start <= {{ as_of_date() }}
        and quarter_end >= (
            select cast(min(first_accounts.created_at) as date) from accounts as first_accounts
        )
),

territories as (
    select
        territory_id,
        territory_name,
        region,
        segment,
        source_system
    from {{ ref('int_territories_unioned') }}

    union all

    select
        'unassigned' as territory_id,
        'Unassigned (no territory)' as territory_name,
        cast(null as {{ dbt.type_string() }}) as region,
        cast(null as {{ dbt.type_string() }}) as segment,
        cast(null as {{ dbt.type_string() }}) as source_system
),

opportunities as (
    select
        opportunities.opportunity_id,
        opportunities.is_won,
        opportunities.close_date,
        opportunities.opportunity_amount,
        coalesce(accounts.territory_id, 'unassigned') as territory_id,
        opportunities.account_id
    from {{ ref('fct_opportunities') }} as opportunities
    left join accounts
        on opportunities.account_id = accounts.account_id
),

account_quarters as (
    select
        accounts.account_id,
        accounts.territory_id,
        quarters.fiscal_quarter,
        quarters.quarter_start,
        quarters.quarter_end,
        quarters.snapshot_date
    from accounts
    inner join quarters
        on accounts.created_at is null
            or cast(accounts.created_at as date) <= quarters.snapshot_date
),

open_deals as (
    select
        quarters.fiscal_quarter,
        opportunities.territory_id,
        opportunities.account_id,
        snapshots.close_date between quarters.quarter_start and quarters.quarter_end
            as is_closing_in_quarter,
        coalesce(snapshots.opportunity_amount, 0) as opportunity_amount
    from {{ ref('int_opportunities_snapshotted_monthly') }} as snapshots
    inner join quarters
        on snapshots.snapshot_date = quarters.snapshot_date
    inner join opportunities
        on snapshots.opportunity_id = opportunities.opportunity_id
    where snapshots.forecast_category != 'omitted'
),

open_accounts as (
    select
        fiscal_quarter,
        account_id,
        max(case when is_closing_in_quarter then 1 else 0 end) as has_pipeline_in_quarter
    from open_deals
    where account_id is not null
    group by fiscal_quarter, account_id
),

first_wins as (
    select
        account_id,
        min(close_date) as first_won_date
    from opportunities
    where is_won
        and account_id is not null
    group by account_id
),

account_status as (
    select
        account_quarters.territory_id,
        account_quarters.fiscal_quarter,
        account_quarters.account_id,
        coalesce(open_accounts.has_pipeline_in_quarter, 0) as has_pipeline_in_quarter,
        case when open_accounts.account_id is not null then 1 else 0 end as has_open_pipeline,
        case when first_wins.first_won_date <= account_quarters.snapshot_date then 1 else 0 end
            as is_customer
    from account_quarters
    left join open_accounts
        on account_quarters.account_id = open_accounts.account_id
            and account_quarters.fiscal_quarter = open_accounts.fiscal_quarter
    left join first_wins
        on account_quarters.account_id = first_wins.account_id
),

account_counts as (
    select
        territory_id,
        fiscal_quarter,
        count(*) as accounts,  -- noqa: RF04
        sum(has_pipeline_in_quarter) as accounts_with_open_pipeline,
        sum(case when has_open_pipeline = 0 and is_customer = 0 then 1 else 0 end)
            as whitespace_accounts,
        sum(is_customer) as customer_accounts
    from account_status
    group by territory_id, fiscal_quarter
),

pipeline as (
    select
        territory_id,
        fiscal_quarter,
        sum(opportunity_amount) as open_pipeline_amount
    from open_deals
    where is_closing_in_quarter
    group by territory_id, fiscal_quarter
),

bookings as (
    select
        opportunities.territory_id,
        quarters.fiscal_quarter,
        sum(coalesce(opportunities.opportunity_amount, 0)) as bookings_amount
    from opportunities
    inner join quarters
        on opportunities.close_date between quarters.quarter_start and quarters.quarter_end
    where opportunities.is_won
        and opportunities.close_date <= {{ as_of_date() }}
    group by opportunities.territory_id, quarters.fiscal_quarter
),

rep_counts as (
    select
        assignments.territory_id,
        quarters.fiscal_quarter,
        count(distinct assignments.rep_id) as reps
    from {{ ref('int_rep_territories_assigned') }} as assignments
    inner join quarters
        on coalesce(assignments.assigned_from, quarters.snapshot_date) <= quarters.snapshot_date
            and coalesce(assignments.assigned_through, quarters.snapshot_date)
            >= quarters.snapshot_date
    group by assignments.territory_id, quarters.fiscal_quarter
),

final as (
    select
        territories.territory_id,
        territories.territory_name,
        territories.region,
        territories.segment,
        territories.source_system,
        territories.territory_id = 'unassigned' as is_unassigned,
        quarters.fiscal_quarter,
        quarters.quarter_start as period_start,
        quarters.quarter_end as period_end,
        {{ as_of_date() }} as as_of_date,
        cast(coalesce(account_counts.accounts, 0) as {{ dbt.type_bigint() }})
            as accounts,  -- noqa: RF04
        cast(coalesce(account_counts.accounts_with_open_pipeline, 0) as {{ dbt.type_bigint() }})
            as accounts_with_open_pipeline,
        cast(coalesce(account_counts.whitespace_accounts, 0) as {{ dbt.type_bigint() }})
            as whitespace_accounts,
        cast(coalesce(account_counts.customer_accounts, 0) as {{ dbt.type_bigint() }})
            as customer_accounts,
        cast(coalesce(rep_counts.reps, 0) as {{ dbt.type_bigint() }}) as reps,
        coalesce(pipeline.open_pipeline_amount, 0) as open_pipeline_amount,
        coalesce(bookings.bookings_amount, 0) as bookings_amount,
        {{ safe_divide('coalesce(pipeline.open_pipeline_amount, 0)', 'rep_counts.reps') }}
            as pipeline_per_rep_amount
    from territories
    cross join quarters
    left join account_counts
        on territories.territory_id = account_counts.territory_id
            and quarters.fiscal_quarter = account_counts.fiscal_quarter
    left join pipeline
        on territories.territory_id = pipeline.territory_id
            and quarters.fiscal_quarter = pipeline.fiscal_quarter
    left join bookings
        on territories.territory_id = bookings.territory_id
            and quarters.fiscal_quarter = bookings.fiscal_quarter
    left join rep_counts
        on territories.territory_id = rep_counts.territory_id
            and quarters.fiscal_quarter = rep_counts.fiscal_quarter
)

select * from final
