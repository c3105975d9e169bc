{#-
    Multi-touch attribution weights (sales-metrics §8), one SQL expression per model.

    The expressions read the columns of int_conversion_touches_matched for one touch of one
    conversion path:
        touch_rank             1 = first touch (FT), ordered by time then touch id
        touch_count            n, touches on the path (all at or before the conversion)
        lead_creation_rank     rank of the lead-creation touch (LC): the last touch at or before
                               the person was created, else the first touch
        days_before_conversion days from the touch to the conversion (>= 0)
    The last touch (rank n) is the conversion touch: OC for an opportunity.

    Position models give each distinct position its share once; a position that coincides with
    another, or an empty middle bucket, folds its share into the remaining buckets pro rata, so
    the weights of a path always sum to 1 (1 touch -> 1.0; U-shaped with FT and LC only -> 0.5
    each; W-shaped without middle touches -> 1/3 each). Shares are whole percentages and every
    weight is one division of integers, so worked examples come out exactly.
-#}

{% macro attribution_models() -%}
    {{ return(['first_touch', 'last_touch', 'linear', 'u_shaped', 'w_shaped', 'time_decay']) }}
{%- endmacro %}

{#- The model the marts report by default (var `default_attribution_model`), validated. -#}
{% macro default_attribution_model() -%}
    {%- set model = var('default_attribution_model', 'w_shaped') -%}
    {%- if model not in salesops.attribution_models() -%}
        {{ exceptions.raise_compiler_error(
            "var 'default_attribution_model' must be one of "
            ~ salesops.attribution_models() | join(', ') ~ ", got '" ~ model ~ "'") }}
    {%- endif -%}
    {{ return(model) }}
{%- endmacro %}

{#- The half-life of time-decay attribution in days (var `attribution_half_life_days`). -#}
{% macro attribution_half_life_days() -%}
    {%- set days = var('attribution_half_life_days', 7) -%}
    {%- if days is none or (days | float) <= 0 -%}
        {{ exceptions.raise_compiler_error(
            "var 'attribution_half_life_days' must be a positive number of days, got '"
            ~ days ~ "'") }}
    {%- endif -%}
    {{ return(days) }}
{%- endmacro %}

{#- The weight of one touch under `model`; `path` partitions the rows of one conversion path
    (time decay normalises over it). -#}
{% macro attribution_weight(model, path='conversion_type, conversion_id') -%}
    {%- set double = salesops.type_double() -%}
    {%- if model == 'first_touch' -%}
        cast(case when touch_rank = 1 then 1 else 0 end as {{ double }})
    {%- elif model == 'last_touch' -%}
        cast(case when touch_rank = touch_count then 1 else 0 end as {{ double }})
    {%- elif model == 'linear' -%}
        {{ salesops.safe_divide('1', 'touch_count') }}
    {%- elif model == 'u_shaped' -%}
        {#- FT 40, LC 40, 20 over the touches strictly between them; later touches get 0. -#}
        {%- set total -%}
            (case when lead_creation_rank = 1 then 40 else 80 end
                + case when lead_creation_rank > 2 then 20 else 0 end)
        {%- endset -%}
        case
            when touch_rank = 1 or touch_rank = lead_creation_rank
                then {{ salesops.safe_divide('40', total) }}
            when touch_rank < lead_creation_rank
                then {{ salesops.safe_divide('20', '(lead_creation_rank - 2) * ' ~ total) }}
            else cast(0 as {{ double }})
        end
    {%- elif model == 'w_shaped' -%}
        {#- FT 30, LC 30, OC 30, 10 over all other touches. -#}
        {%- set positions -%}
            (1 + case when lead_creation_rank > 1 then 1 else 0 end
                + case when touch_count > lead_creation_rank then 1 else 0 end)
        {%- endset -%}
        {%- set total -%}
            (30 * {{ positions }} + case when touch_count > {{ positions }} then 10 else 0 end)
        {%- endset -%}
        case
            when touch_rank = 1 or touch_rank = lead_creation_rank or touch_rank = touch_count
                then {{ salesops.safe_divide('30', total) }}
            else {{ salesops.safe_divide('10', '(touch_count - ' ~ positions ~ ') * ' ~ total) }}
        end
    {%- elif model == 'time_decay' -%}
        {#- w_i = 2^(-dt_i / h) / sum_j 2^(-dt_j / h), dt in days before the conversion. -#}
        {%- set decay = salesops.power(
            2, '-days_before_conversion / ' ~ salesops.attribution_half_life_days()) -%}
        {{ decay }} / nullif(sum({{ decay }}) over (partition by {{ path }}), 0)
    {%- else -%}
        {{ exceptions.raise_compiler_error("unknown attribution model '" ~ model ~ "'") }}
    {%- endif -%}
{%- endmacro %}
