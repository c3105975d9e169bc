{#-
    Currency conversion (sales-metrics §12). Rates are units of a currency per 1 unit of the
    org's corporate currency, in force on valid_from <= d < valid_to:

        amount in var('corporate_currency') = amount / rate(currency, d) * rate(corporate, d)

    (the second factor is 1 when the var names the org's corporate currency). Convert before
    summing, never after. Use convert_currency_joins in the FROM clause and converted_amount in
    the select list with the same alias.
-#}
{% macro convert_currency_joins(currency_code, rate_date, alias='fx') -%}
    left join {{ ref('int_conversion_rates_dated') }} as {{ alias }}
        on {{ currency_code }} = {{ alias }}.currency_code
        and {{ rate_date }} >= {{ alias }}.valid_from
        and {{ rate_date }} < {{ alias }}.valid_to
    left join {{ ref('int_conversion_rates_dated') }} as {{ alias }}_corporate
        on {{ alias }}_corporate.currency_code = '{{ var("corporate_currency") }}'
        and {{ rate_date }} >= {{ alias }}_corporate.valid_from
        and {{ rate_date }} < {{ alias }}_corporate.valid_to
{%- endmacro %}

{% macro converted_amount(amount, currency_code, alias='fx') -%}
    case
        when {{ currency_code }} = '{{ var("corporate_currency") }}' then {{ amount }}
        else {{ amount }} / nullif({{ alias }}.conversion_rate, 0)
            * coalesce({{ alias }}_corporate.conversion_rate, 1)
    end
{%- endmacro %}
