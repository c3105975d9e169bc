{#-
    Incremental models here use delete+insert by key (portable, and maps to insert_overwrite):
    each run recomputes every key touched since the last run and replaces its rows.

    incremental_since(column): the high-water mark of a column in the existing table.
    delete_missing_keys: a post-hook that removes keys that disappeared upstream (deleted in the
    CRM, or now excluded as invalid), which delete+insert alone never sees. Spark without Delta
    has no DELETE: spark__delete_missing_keys (macros/cross_db/spark_incremental.sql) rewrites
    the table with the rows to keep instead.
-#}
{% macro incremental_since(column) -%}
    (select max({{ column }}) from {{ this }})
{%- endmacro %}

{% macro delete_missing_keys(key, upstream) -%}
    {{ return(adapter.dispatch('delete_missing_keys', 'salesops')(key, upstream)) }}
{%- endmacro %}

{% macro default__delete_missing_keys(key, upstream) -%}
    delete from {{ this }}
    where not exists (
        select 1 from {{ upstream }} as upstream
        where upstream.{{ key }} = {{ this }}.{{ key }}
    )
{%- endmacro %}
