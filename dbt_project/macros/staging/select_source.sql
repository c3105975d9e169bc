{#-
    select_source(source_name, table_name, columns, required=false, drop_deleted=true)

    The select a staging model reads a raw table with. `columns` maps each raw column the model
    uses to a logical type (id, string, float, int, boolean, date, timestamp). It makes the
    project independent of the loader:

    * a column the table lacks (a custom field this org does not have, no multi-currency, ...)
      becomes a typed NULL;
    * a missing optional table (no territory model, no dated rates, ...) becomes an empty
      relation of the same shape; a missing required table stops the run with a message naming
      the vars to set;
    * values are cast to the logical type whatever the loader landed (strings from HubSpot
      loaders, naive UTC timestamps from Fivetran, numeric ids, ...), timestamps are converted to
      the company time zone;
    * rows flagged by the loader's deletion column (var `<source>_deleted_column`) are dropped
      (unless drop_deleted=false: deactivated owners and archived stages still matter);
      `_loaded_at` is the loader's landing time (var `<source>_loaded_at_column`);
    * rows the raw gate quarantined (raw_meta.quarantined_keys, see quarantine.sql) are
      excluded, by the table's `id`.
-#}
{% macro select_source(source_name, table_name, columns, required=false, drop_deleted=true) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- set deleted_column = var(source_name ~ '_deleted_column', '_is_deleted') | lower -%}
    {%- set loaded_at_column = var(source_name ~ '_loaded_at_column', '_synced_at') | lower -%}
    {%- set actual = {} -%}
    {%- set state = {'exists': false} -%}
    {%- if execute -%}
        {%- set found = adapter.get_relation(
                database=relation.database, schema=relation.schema,
                identifier=relation.identifier) -%}
        {%- if found is not none -%}
            {%- do state.update({'exists': true}) -%}
            {%- for column in adapter.get_columns_in_relation(found) -%}
                {%- do actual.update({column.name | lower: column}) -%}
            {%- endfor -%}
        {%- elif required -%}
            {{ exceptions.raise_compiler_error(
                "Raw table " ~ relation ~ " does not exist. Point var '" ~ source_name
                ~ "_schema' at the schema your loader writes to, or remove '" ~ source_name
                ~ "' from var 'salesops_sources'.") }}
        {%- endif -%}
    {%- endif %}
    select
    {%- for name, logical_type in columns.items() %}
        {{ salesops.source_column(name, logical_type, actual.get(name | lower)) }} as {{ name }},
    {%- endfor %}
        {{ salesops.source_column(loaded_at_column, 'timestamp', actual.get(loaded_at_column)) }} as _loaded_at
    {%- if state.exists %}
    {%- set conditions = [] -%}
    {%- if drop_deleted and deleted_column in actual -%}
        {%- do conditions.append('not coalesce(' ~ adapter.quote(deleted_column) ~ ', false)') -%}
    {%- endif -%}
    {%- if 'id' in actual and salesops.quarantine_managed() -%}
        {%- do conditions.append(salesops.not_quarantined(source_name, table_name, 'raw_rows')) -%}
    {%- endif %}
    from {{ relation }} as raw_rows
        {%- if conditions %}
    where {{ conditions | join('\n        and ') }}
        {%- endif %}
    {%- else %}
    {{ salesops.empty_relation_filter() }}
    {%- endif %}
{%- endmacro %}


{#- One raw column cast to its logical type, or a typed NULL when the table lacks it. -#}
{% macro source_column(name, logical_type, column) -%}
    {%- set target_type = salesops.logical_type(logical_type) -%}
    {%- if column is none -%}
        cast(null as {{ target_type }})
    {%- else -%}
        {%- set quoted = adapter.quote(column.name) -%}
        {%- set dtype = column.dtype | lower -%}
        {%- set is_text = ('char' in dtype or 'text' in dtype or 'string' in dtype) -%}
        {%- set is_number = ('int' in dtype or 'double' in dtype or 'float' in dtype
                             or 'decimal' in dtype or 'numeric' in dtype or 'real' in dtype) -%}
        {%- if logical_type == 'timestamp' -%}
            {{ salesops.to_local_timestamp(quoted, dtype) }}
        {%- elif logical_type == 'date' and ('time zone' in dtype or 'timestamptz' in dtype) -%}
            cast({{ salesops.to_local_timestamp(quoted, dtype) }} as date)
        {%- elif logical_type == 'date' and is_text -%}
            {{ dbt.safe_cast(salesops.left(quoted, 10), 'date') }}
        {%- elif logical_type == 'id' and is_number -%}
            cast(cast({{ quoted }} as {{ dbt.type_bigint() }}) as {{ dbt.type_string() }})
        {%- elif logical_type == 'boolean' and is_text -%}
            case lower({{ quoted }}) when 'true' then true when 'false' then false end
        {%- elif is_text and logical_type not in ('id', 'string') -%}
            {{ dbt.safe_cast(quoted, target_type) }}
        {%- else -%}
            cast({{ quoted }} as {{ target_type }})
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{% macro logical_type(logical_type) -%}
    {%- set types = {
        'id': dbt.type_string(),
        'string': dbt.type_string(),
        'float': salesops.type_double(),
        'int': dbt.type_bigint(),
        'boolean': dbt.type_boolean(),
        'date': 'date',
        'timestamp': dbt.type_timestamp(),
    } -%}
    {%- if logical_type not in types -%}
        {{ exceptions.raise_compiler_error("unknown logical type '" ~ logical_type ~ "'") }}
    {%- endif -%}
    {{ return(types[logical_type]) }}
{%- endmacro %}
