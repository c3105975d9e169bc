{#-
    Historical stage-to-close rates (sales-metrics §11) learned from the org's own snapshots,
    as the forecast applies them today: the rows of int_forecast_conversion_rates_by_cutoff at
    its last cutoff, i.e. learned from every fiscal quarter that ended before the as-of date.
    One definition of an observation serves both the forecast and its back-test, so the two
    cannot drift apart.
-#}

with

rates_by_cutoff as (
    select * from {{ ref('int_forecast_conversion_rates_by_cutoff') }}
),

last_cutoff as (
    select max(cutoff_date) as cutoff_date
    from rates_by_cutoff
)

select
    rates_by_cutoff.ladder_stage,
    rates_by_cutoff.age_bucket,
    rates_by_cutoff.segment,
    rates_by_cutoff.observation_count,
    rates_by_cutoff.converted_count,
    rates_by_cutoff.conversion_rate
from rates_by_cutoff
inner join last_cutoff
    on rates_by_cutoff.cutoff_date = last_cutoff.cutoff_date
