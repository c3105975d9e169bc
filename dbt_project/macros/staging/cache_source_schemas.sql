{#-
    cache_source_schemas(): an on-run-start hook that lists, once and in dbt's main thread, every
    schema the project looks tables up in by name: the sources' schemas (select_source), the raw
    gate's quarantine (quarantine_relation) and the statistical forecast (mart_forecast).

    Why: dbt caches only the schemas it builds into. The first adapter.get_relation() in any
    other schema lists it and adds its relations to the cache one at a time, and the schema
    counts as cached from the first one on. A model compiling in another thread at that moment
    is told the raw table it reads does not exist, and select_source builds it from an empty
    relation: all HubSpot emails vanished from fct_activities in about one build in six (8
    threads). Listing these schemas before any model runs leaves the threads a complete cache.
-#}
{% macro cache_source_schemas() -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set schemas = [(target.database, var('quarantine_schema', 'raw_meta')), (target.database, 'forecast')] -%}
    {%- for source in graph.sources.values() -%}
        {%- if (source.database, source.schema) not in schemas -%}
            {%- do schemas.append((source.database, source.schema)) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for database, schema in schemas -%}
        {#- the identifier does not matter: the lookup lists and caches the whole schema -#}
        {%- do adapter.get_relation(database=database, schema=schema, identifier='_cache_warm_up') -%}
    {%- endfor -%}
    {{ return('') }}
{%- endmacro %}
