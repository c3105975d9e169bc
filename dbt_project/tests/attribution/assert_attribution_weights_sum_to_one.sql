{#- sales-metrics §8/§13: the weights of one opportunity and model sum to 1 (no_touch included),
    and every opportunity created by the as-of date has rows under every model of
    attribution_models() (the list the marts are built from, not the models found in the data,
    so a model that went missing fails here). -#}

with

sums as (
    select
        opportunity_id,
        model,
        sum(weight) as weight_sum
    from {{ ref('fct_attribution_touches') }}
    group by opportunity_id, model
),

models as (
    {%- for model in attribution_models() %}
    select '{{ model }}' as model  -- noqa: RF04
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

expected as (
    select
        opportunities.opportunity_id,
        models.model
    from {{ ref('fct_opportunities') }} as opportunities
    cross join models
    where opportunities.created_date <= {{ as_of_date() }}
)

select
    expected.opportunity_id,
    expected.model,
    sums.weight_sum
from expected
left join sums
    on expected.opportunity_id = sums.opportunity_id
        and expected.model = sums.model
where sums.weight_sum is null
    or abs(sums.weight_sum - 1) > 1e-9
