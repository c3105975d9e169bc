{#-
    Declared types on Spark. Seeds and model contracts declare the types DuckDB and PostgreSQL
    share (`text`, `float8`, `bigint`, `integer`, `boolean`, `date`, `timestamp`); Spark has no
    `text` or `float8`. spark_type() translates them, and is applied where dbt turns a declared
    type into SQL: `cast` (contracts compare the model's columns with
    `select cast(null as <declared type>)`) and these copies of dbt-spark's seed macros, which
    are otherwise dbt-spark's own.
-#}
{% macro spark_type(type) -%}
    {%- set aliases = {
        'text': 'string', 'varchar': 'string', 'float8': 'double',
        'double precision': 'double', 'float4': 'float', 'int8': 'bigint', 'int4': 'int',
        'timestamptz': 'timestamp', 'timestamp with time zone': 'timestamp',
        'timestamp without time zone': 'timestamp'} -%}
    {{- return(aliases.get(type | lower | trim, type)) -}}
{%- endmacro %}


{% macro spark__cast(expression, data_type) -%}
    cast({{ expression }} as {{ salesops.spark_type(data_type) }})
{%- endmacro %}


{#- dbt-spark's session method substitutes seed values into the SQL without escaping quotes
    (a currency named Pa'anga breaks the insert), so values are rendered here as escaped
    literals instead of bindings. -#}
{% macro spark_seed_literal(value) -%}
    {%- if value is none -%}
        null
    {%- elif value is boolean -%}
        {{ 'true' if value else 'false' }}
    {%- elif value is number -%}
        {{ value }}
    {%- else -%}
        '{{ value | string | replace('\\', '\\\\') | replace("'", "\\'") }}'
    {%- endif -%}
{%- endmacro %}


{% macro spark__load_csv_rows(model, agate_table) %}
  {% set batch_size = get_batch_size() %}
  {% set column_override = model['config'].get('column_types', {}) %}
  {% set statements = [] %}
  {% for chunk in agate_table.rows | batch(batch_size) %}
      {% set sql %}
          insert into {{ this.render() }} values
          {% for row in chunk -%}
              ({%- for col_name in agate_table.column_names -%}
                  {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
                  {%- set type = salesops.spark_type(column_override.get(col_name, inferred_type)) -%}
                    cast({{ salesops.spark_seed_literal(row[loop.index0]) }} as {{type}})
                  {%- if not loop.last%},{%- endif %}
              {%- endfor -%})
              {%- if not loop.last%},{%- endif %}
          {%- endfor %}
      {% endset %}
      {% do adapter.add_query(sql, abridge_sql_log=True) %}
      {% if loop.index0 == 0 %}
          {% do statements.append(sql) %}
      {% endif %}
  {% endfor %}
  {{ return(statements[0]) }}
{% endmacro %}


{% macro spark__create_csv_table(model, agate_table) %}
  {%- set column_override = model['config'].get('column_types', {}) -%}
  {%- set quote_seed_column = model['config'].get('quote_columns', None) -%}
  {% set sql %}
    create table {{ this.render() }} (
        {%- for col_name in agate_table.column_names -%}
            {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
            {%- set type = salesops.spark_type(column_override.get(col_name, inferred_type)) -%}
            {%- set column_name = (col_name | string) -%}
            {{ adapter.quote_seed_column(column_name, quote_seed_column) }} {{ type }} {%- if not loop.last -%}, {%- endif -%}
        {%- endfor -%}
    )
    {{ file_format_clause() }}
    {{ partition_cols(label="partitioned by") }}
    {{ clustered_cols(label="clustered by") }}
    {{ location_clause() }}
    {{ comment_clause() }}
  {% endset %}
  {% call statement('_') -%}
    {{ sql }}
  {%- endcall %}
  {{ return(sql) }}
{% endmacro %}
