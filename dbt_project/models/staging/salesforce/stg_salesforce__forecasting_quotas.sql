{{ config(enabled=source_enabled('salesforce')) }}

{%- set columns = {
    'id': 'id',
    'quota_owner_id': 'id',
    'start_date': 'date',
    'period_id': 'id',
    'quota_amount': 'float',
    'currency_iso_code': 'string',
    'is_quantity': 'boolean',
    'is_deleted': 'boolean',
} %}

with

source as (
    {{ select_source('salesforce', 'forecasting_quota', columns) }}
),

renamed as (
    select
        id as quota_id,
        quota_owner_id as rep_id,
        period_id,
        start_date,
        quota_amount,
        upper(coalesce(currency_iso_code, '{{ var("corporate_currency") }}')) as currency_code,
        _loaded_at

    from source
    where not coalesce(is_deleted, false)
        -- quantity quotas count units, not money
        and not coalesce(is_quantity, false)
)

select * from renamed
