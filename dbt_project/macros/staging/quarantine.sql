{#-
    The raw gate's quarantine (docs/quality.md). The gate validates every raw row when it lands
    and records each invalid row's key and reason in raw_meta.quarantined_keys (source, stream,
    primary_key, reason, ...); the row stays in raw. Staging excludes those keys: select_source
    anti-joins the table on (source, stream, id), so "invalid" has one definition, the gate's
    suites (orchestration/quality/raw_suites.py).

    quarantine_managed() is true when that table exists, i.e. the gate runs for this warehouse.
    Without it (another loader, no gate) staging models fall back to their own rules.
    Var `quarantine_schema` (default raw_meta) names its schema.
-#}
{% macro quarantine_relation() -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(adapter.get_relation(
        database=target.database,
        schema=var('quarantine_schema', 'raw_meta'),
        identifier='quarantined_keys')) }}
{%- endmacro %}


{% macro quarantine_managed() -%}
    {{ return(salesops.quarantine_relation() is not none) }}
{%- endmacro %}


{#- A predicate: the row of `source_name`.`table_name` (aliased `row_alias`) is not quarantined. -#}
{% macro not_quarantined(source_name, table_name, row_alias, key_column='id') -%}
    not exists (
        select 1
        from {{ salesops.quarantine_relation() }} as quarantined
        where quarantined.source = '{{ source_name }}'
            and quarantined.stream = '{{ table_name }}'
            and quarantined.primary_key = cast({{ row_alias }}.{{ adapter.quote(key_column) }} as {{ dbt.type_string() }})
    )
{%- endmacro %}
