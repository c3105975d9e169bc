{{ config(enabled=source_enabled('salesforce')) }}

{%- set columns = {
    'id': 'id',
    'subject': 'string',
    'who_id': 'id',
    'what_id': 'id',
    'account_id': 'id',
    'owner_id': 'id',
    'status': 'string',
    'type': 'string',
    'task_subtype': 'string',
    'activity_date': 'date',
    'completed_date_time': 'timestamp',
    'is_closed': 'boolean',
    'call_duration_in_seconds': 'int',
    'is_deleted': 'boolean',
    'created_date': 'timestamp',
    'last_modified_date': 'timestamp',
} %}

with

source as (
    {{ select_source('salesforce', 'task', columns) }}
),

renamed as (
    select
        -- ids: WhoId is a lead (00Q) or contact (003), WhatId an opportunity (006) or account
        id as task_id,
        who_id,
        what_id,
        account_id,
        owner_id as owner_rep_id,

        -- text
        subject,
        status as task_status,
        type as task_type,
        task_subtype,
        case
            when lower(task_subtype) = 'call' or lower(type) = 'call' then 'call'
            when lower(task_subtype) in ('email', 'listemail') or lower(type) = 'email' then 'email'
            else 'task'
        end as activity_type,

        -- numbers
        call_duration_in_seconds,

        -- booleans: an open task is never counted as done (sales-metrics §13.5)
        coalesce(is_closed, false) as is_completed,

        -- dates
        activity_date,
        completed_date_time as completed_at,
        created_date as created_at,
        last_modified_date as modified_at,
        _loaded_at

    from source
    where not coalesce(is_deleted, false)
)

select * from renamed
