{{ config(materialized='table') }}

{#-
    One row per currency and validity interval [valid_from, valid_to): units of the currency per
    1 unit of the CRM's corporate currency. Salesforce dated rates (Advanced Currency
    Management) where they exist, else the static CurrencyType rate, else 1 for the corporate
    currency itself. The earliest dated rate of a currency also covers every earlier day, as
    Salesforce's own first dated rate does.
-#}

with

{% if source_enabled('salesforce') %}
dated as (
    select
        currency_code,
        conversion_rate,
        start_date,
        next_start_date,
        row_number() over (partition by currency_code order by start_date) as rate_number
    from {{ ref('stg_salesforce__dated_conversion_rates') }}
    where conversion_rate > 0
),

dated_intervals as (
    select
        currency_code,
        conversion_rate,
        case when rate_number = 1 then cast('1900-01-01' as date) else start_date end
            as valid_from,
        coalesce(next_start_date, cast('9999-12-31' as date)) as valid_to,
        'dated' as rate_source
    from dated
),

static_rates as (
    select
        currency_code,
        conversion_rate,
        cast('1900-01-01' as date) as valid_from,
        cast('9999-12-31' as date) as valid_to,
        'static' as rate_source
    from {{ ref('stg_salesforce__currency_types') }}
    where conversion_rate > 0
        and currency_code not in (select dated.currency_code from dated)
),
{% endif %}

crm_rates as (
    {% if source_enabled('salesforce') -%}
    select * from dated_intervals
    union all
    select * from static_rates
    {%- else -%}
    select
        cast(null as {{ dbt.type_string() }}) as currency_code,
        cast(null as {{ type_double() }}) as conversion_rate,
        cast(null as date) as valid_from,
        cast(null as date) as valid_to,
        cast(null as {{ dbt.type_string() }}) as rate_source
    {{ empty_relation_filter() }}
    {%- endif %}
),

corporate as (
    -- the corporate currency converts to itself at 1 even when the CRM lists no rate for it
    select
        '{{ var("corporate_currency") }}' as currency_code,
        cast(1 as {{ type_double() }}) as conversion_rate,
        cast('1900-01-01' as date) as valid_from,
        cast('9999-12-31' as date) as valid_to,
        'corporate' as rate_source
    where '{{ var("corporate_currency") }}' not in (select currency_code from crm_rates)
),

final as (
    select * from crm_rates
    union all
    select * from corporate
)

select * from final
