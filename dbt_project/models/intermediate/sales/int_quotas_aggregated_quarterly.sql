{#-
    Full (unramped) quota per rep and fiscal quarter in the corporate currency: Salesforce
    ForecastingQuota rows summed by the fiscal quarter of their start date, converted at the
    rate of that date. HubSpot has no quotas.
-#}

with

{% if source_enabled('salesforce') %}
quotas as (
    select
        quotas.rep_id,
        {{ fiscal_quarter_label('quotas.start_date') }} as fiscal_quarter,
        {{ converted_amount('quotas.quota_amount', 'quotas.currency_code') }} as quota_amount
    from {{ ref('stg_salesforce__forecasting_quotas') }} as quotas
    {{ convert_currency_joins('quotas.currency_code', 'quotas.start_date') }}
),
{% else %}
quotas as (
    select
        cast(null as {{ dbt.type_string() }}) as rep_id,
        cast(null as {{ dbt.type_string() }}) as fiscal_quarter,
        cast(null as {{ type_double() }}) as quota_amount
    {{ empty_relation_filter() }}
),
{% endif %}

aggregated as (
    select
        rep_id,
        fiscal_quarter,
        sum(quota_amount) as quota_amount
    from quotas
    group by rep_id, fiscal_quarter
)

select * from aggregated
