{#-
    delete+insert on Spark without Delta (docs/scale-out.md).

    The incremental models use delete+insert by key (macros/utils/incremental.sql). Plain Parquet
    tables on Spark have no DELETE and no MERGE, so on the spark target the same strategy is
    carried out with insert_overwrite: the rows to keep (existing rows whose key is not in the
    new batch) and the new batch are staged as tables, then `insert overwrite` replaces the
    target with their union. Staging goes through tables because Spark refuses to overwrite a
    table that the query reads (the new batch may read {{ this }}). The result is exactly what
    delete+insert gives on DuckDB and PostgreSQL; the cost is a rewrite of the model's table,
    which is what a Parquet table without a table format (Delta, Iceberg) always costs.

    These two macros override dbt-spark's of the same name (the root project's macros win) and
    hand every other strategy back to dbt-spark.
-#}
{% macro dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format) -%}
    {%- if raw_strategy == 'delete+insert' -%}
        {{ return(raw_strategy) }}
    {%- endif -%}
    {{ return(dbt.dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format)) }}
{%- endmacro %}


{% macro dbt_spark_get_incremental_sql(strategy, source, target, existing, unique_key, incremental_predicates) -%}
    {%- if strategy != 'delete+insert' -%}
        {{ return(dbt.dbt_spark_get_incremental_sql(strategy, source, target, existing, unique_key, incremental_predicates)) }}
    {%- endif -%}
    {%- if not unique_key -%}
        {{ exceptions.raise_compiler_error('delete+insert needs a unique_key (' ~ target ~ ')') }}
    {%- endif -%}
    {%- set keys = [unique_key] if unique_key is string else unique_key -%}
    {%- set match = [] -%}
    {%- for key in keys -%}
        {%- do match.append('new_rows.' ~ key ~ ' = kept.' ~ key) -%}
    {%- endfor -%}
    {%- set batch = salesops.spark_scratch_relation(target, 'new') -%}
    {%- set kept = salesops.spark_scratch_relation(target, 'kept') -%}
    {%- set columns = adapter.get_columns_in_relation(target) | map(attribute='quoted') | join(', ') -%}
    {%- do run_query('drop table if exists ' ~ batch) -%}
    {%- do run_query('create table ' ~ batch ~ ' using parquet as select * from ' ~ source) -%}
    {%- do run_query('drop table if exists ' ~ kept) -%}
    {%- do run_query('create table ' ~ kept ~ ' using parquet as select ' ~ columns ~ ' from ' ~ target
        ~ ' as kept where not exists (select 1 from ' ~ batch ~ ' as new_rows where '
        ~ match | join(' and ') ~ ')') -%}
    {%- do run_query('insert overwrite table ' ~ target ~ ' select ' ~ columns ~ ' from ' ~ kept
        ~ ' union all select ' ~ columns ~ ' from ' ~ batch) -%}
    {%- do run_query('drop table if exists ' ~ batch) -%}
    {%- do run_query('drop table if exists ' ~ kept) -%}
    {#- The materialization's main statement; the work is done above. -#}
    select count(*) as rows_in_table from {{ target }}
{%- endmacro %}


{#- A scratch table beside `relation` in the schema dbt_scratch, out of the marts' way. -#}
{% macro spark_scratch_relation(relation, suffix) -%}
    {%- do run_query('create database if not exists dbt_scratch') -%}
    {{- return(api.Relation.create(schema='dbt_scratch', identifier=relation.schema ~ '__' ~ relation.identifier ~ '__' ~ suffix)) -}}
{%- endmacro %}


{#- The post-hook delete_missing_keys (macros/utils/incremental.sql): keep only the keys still
    upstream, by rewriting the table (no DELETE on Parquet tables). -#}
{% macro spark__delete_missing_keys(key, upstream) -%}
    {%- if execute -%}
        {%- set kept = salesops.spark_scratch_relation(this, 'present') -%}
        {%- do run_query('drop table if exists ' ~ kept) -%}
        {%- do run_query('create table ' ~ kept ~ ' using parquet as select * from ' ~ this
            ~ ' as current_rows where exists (select 1 from ' ~ upstream ~ ' as upstream where upstream.'
            ~ key ~ ' = current_rows.' ~ key ~ ')') -%}
        {%- do run_query('insert overwrite table ' ~ this ~ ' select * from ' ~ kept) -%}
        {%- do run_query('drop table if exists ' ~ kept) -%}
    {%- endif -%}
{%- endmacro %}
