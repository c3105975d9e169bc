-- Σ rep bookings = company bookings (sales-metrics §13.13): every won deal closed by the as-of
-- date is credited to exactly one rep-month of mart_sales_kpis.
with

rep_bookings as (
    select coalesce(sum(bookings_amount), 0) as amount
    from {{ ref('mart_sales_kpis') }}
),

company_bookings as (
    select coalesce(sum(opportunity_amount), 0) as amount
    from {{ ref('fct_opportunities') }}
    where is_won
        and close_date <= {{ as_of_date() }}
)

select
    rep_bookings.amount as rep_bookings_amount,
    company_bookings.amount as company_bookings_amount
from rep_bookings
cross join company_bookings
where abs(rep_bookings.amount - company_bookings.amount) > 0.005
