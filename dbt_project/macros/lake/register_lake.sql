{#-
    Spark over the Parquet lake (docs/scale-out.md, connectors/destinations/parquet.py).

    The lake's only commit point is `<lake root>/manifest.json`: it lists every table, its
    declared columns and the exact slice files that make up its committed content. A slice
    that no manifest names (a sync that crashed, or one still running) is never read.
    register_lake_sources() runs on-run-start on the spark target: it reads the manifest with
    Spark's JSON reader and (re)creates one external table per lake table, `<schema>.<table>`
    (raw_salesforce, raw_hubspot, raw_google_ads, raw_meta, and forecast for the statistical
    forecast), with the declared columns, over exactly the listed files. Staging keeps reading them
    through source() unchanged. On every other target it does nothing.

    Lake root: SALESOPS_LAKE_ROOT, default $SALESOPS_DATA_DIR/lake (CONFIG.md).
-#}
{% macro lake_root() -%}
    {{- return(env_var('SALESOPS_LAKE_ROOT', '') or ((env_var('SALESOPS_DATA_DIR', '') or 'data') ~ '/lake')) -}}
{%- endmacro %}


{% macro lake_spark_type(lake_type) -%}
    {%- set types = {
        'VARCHAR': 'string', 'JSON': 'string', 'DOUBLE': 'double', 'BIGINT': 'bigint',
        'INTEGER': 'int', 'BOOLEAN': 'boolean', 'DATE': 'date', 'TIMESTAMPTZ': 'timestamp'} -%}
    {%- if lake_type | upper not in types -%}
        {{ exceptions.raise_compiler_error('lake column type ' ~ lake_type ~ ' has no Spark type') }}
    {%- endif -%}
    {{- return(types[lake_type | upper]) -}}
{%- endmacro %}


{% macro lake_files_path(root, files) -%}
    {#- One path for Spark's reader: a file, or a Hadoop glob `{a,b}` over several. -#}
    {%- if files | length == 1 -%}
        {{- return(root ~ '/' ~ files[0]) -}}
    {%- endif -%}
    {%- set ns = namespace(common=files[0].rsplit('/', 1)[0]) -%}
    {%- for f in files if f.rsplit('/', 1)[0] != ns.common -%}
        {{ exceptions.raise_compiler_error('lake table files span directories: ' ~ files | join(', ')) }}
    {%- endfor -%}
    {{- return(root ~ '/' ~ ns.common ~ '/{' ~ (files | map('replace', ns.common ~ '/', '') | join(',')) ~ '}') -}}
{%- endmacro %}


{% macro register_lake_sources() -%}
    {%- if not execute or target.type != 'spark' -%}
        {{ return('') }}
    {%- endif -%}
    {%- set root = salesops.lake_root().rstrip('/') -%}
    {%- set listing = run_query(
        "select t.schema as schema_name, t.name as table_name, to_json(t.files) as files, "
        ~ "to_json(t.columns) as columns from (select explode(tables) as t from json.`"
        ~ root ~ "/manifest.json`)") -%}
    {#- Only what the project reads: its sources, the raw_meta tables and the forecast. -#}
    {%- set wanted = ['raw_meta.*', 'forecast.*'] -%}
    {%- for source in graph.sources.values() -%}
        {%- do wanted.append(source.schema ~ '.' ~ source.identifier) -%}
    {%- endfor -%}
    {%- set schemas = [] -%}
    {%- set ns = namespace(registered=0) -%}
    {%- for row in listing
        if (row['schema_name'] ~ '.' ~ row['table_name']) in wanted or (row['schema_name'] ~ '.*') in wanted -%}
        {%- set ns.registered = ns.registered + 1 -%}
        {%- if row['schema_name'] not in schemas -%}
            {%- do schemas.append(row['schema_name']) -%}
            {%- do run_query('create database if not exists ' ~ adapter.quote(row['schema_name'])) -%}
        {%- endif -%}
        {%- set columns = fromjson(row['columns']) -%}
        {%- set files = fromjson(row['files']) -%}
        {%- if not files -%}
            {{ exceptions.raise_compiler_error('lake table ' ~ row['schema_name'] ~ '.' ~ row['table_name'] ~ ' lists no files') }}
        {%- endif -%}
        {%- set ddl = [] -%}
        {%- for column in columns -%}
            {%- do ddl.append(adapter.quote(column['name']) ~ ' ' ~ salesops.lake_spark_type(column['type'])) -%}
        {%- endfor -%}
        {%- set relation = adapter.quote(row['schema_name']) ~ '.' ~ adapter.quote(row['table_name']) -%}
        {#- An external table with the declared schema over exactly the listed files: no schema
            inference, and a column an older slice lacks reads as NULL. -#}
        {%- do run_query('drop table if exists ' ~ relation) -%}
        {%- do run_query('create table ' ~ relation ~ ' (' ~ ddl | join(', ') ~ ') using parquet options (path '
            ~ "'" ~ salesops.lake_files_path(root, files) ~ "')") -%}
    {%- endfor -%}
    {{- log('registered ' ~ ns.registered ~ ' of ' ~ (listing | length) ~ ' lake tables from ' ~ root, info=true) -}}
    {{- return('') -}}
{%- endmacro %}
