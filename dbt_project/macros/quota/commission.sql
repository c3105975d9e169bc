{#-
    Commission math (sales-metrics §6), marginal like tax brackets. A plan has up to three
    tiers; tier t covers attainment [lower_t, lower_{t+1}) (the last tier is open-ended) and pays
    its rate on the bookings inside it:

        band_t(B) = max(0, min(B, lower_{t+1} * Q) - lower_t * Q)
        C(B)      = sum over t of rate_t * band_t(B)

    Q is the ramp-adjusted quota. Without a quota (Q NULL or 0) every booking falls in tier 1:
    the base rate, no accelerator. `plan` is the alias of a relation with the columns of
    int_commission_plans_pivoted.
-#}
{% macro commission_band(bookings, quota, plan, tier) -%}
    {%- set lower = plan ~ '.tier_' ~ tier ~ '_lower_attainment' -%}
    {%- set upper = (plan ~ '.tier_' ~ (tier + 1) ~ '_lower_attainment') if tier < 3 else none -%}
    case
        when {{ lower }} is null then 0
        when coalesce({{ quota }}, 0) <= 0
            then {% if tier == 1 %}greatest({{ bookings }}, 0){% else %}0{% endif %}
        else greatest(
            {%- if upper is none %}
            {{ bookings }} - {{ lower }} * {{ quota }},
            {%- else %}
            case
                when {{ upper }} is null then {{ bookings }}
                else least({{ bookings }}, {{ upper }} * {{ quota }})
            end - {{ lower }} * {{ quota }},
            {%- endif %}
            0
        )
    end
{%- endmacro %}

{#- C(B): the tier commission before decelerator and caps. -#}
{% macro commission_tiers_total(bookings, quota, plan) -%}
    (
        {%- for tier in [1, 2, 3] %}
        coalesce({{ plan }}.tier_{{ tier }}_rate, 0)
        * ({{ salesops.commission_band(bookings, quota, plan, tier) }})
        {%- if not loop.last %} + {% endif %}
        {%- endfor %}
    )
{%- endmacro %}

{#- Bookings that count after an attainment cap (the plan caps the commissionable bookings at
    cap_value x quota); other cap types leave them as they are. -#}
{% macro commission_capped_bookings(bookings, quota, plan) -%}
    case
        when {{ plan }}.cap_type = 'attainment' and coalesce({{ quota }}, 0) > 0
            then least({{ bookings }}, {{ plan }}.cap_value * {{ quota }})
        else {{ bookings }}
    end
{%- endmacro %}

{#-
    The decelerator, a separate rule (not a tier): bookings below decelerator_below_attainment
    x quota earn decelerator_rate_multiplier x their tier rate. Retroactive plans pay the full
    rate on everything once the threshold is reached. Returns the amount withheld from C(B).
-#}
{% macro commission_decelerator(bookings, quota, plan) -%}
    case
        when {{ plan }}.decelerator_below_attainment is null or coalesce({{ quota }}, 0) <= 0
            then 0
        when {{ plan }}.decelerator_is_retroactive
            then case
                when {{ bookings }} < {{ plan }}.decelerator_below_attainment * {{ quota }}
                    then (1 - {{ plan }}.decelerator_rate_multiplier)
                    * {{ salesops.commission_tiers_total(bookings, quota, plan) }}
                else 0
            end
        else (1 - {{ plan }}.decelerator_rate_multiplier)
            * {{ salesops.commission_tiers_total(
                'least(' ~ bookings ~ ', ' ~ plan ~ '.decelerator_below_attainment * ' ~ quota ~ ')',
                quota, plan) }}
    end
{%- endmacro %}
