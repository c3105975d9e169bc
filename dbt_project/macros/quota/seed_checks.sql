{#-
    Post-hook of int_quota_seed_rows_validated: when any seed row of the quota, ramp or
    commission seeds is bad, stop the build with one message naming every bad row, so a wrong
    seed can never turn into a silent wrong payout. Downstream quota and commission models are
    then skipped. (Unit tests never run hooks: the problem column is unit-tested directly.)
-#}
{% macro quota_raise_on_seed_problems() -%}
    {%- if execute -%}
        {%- set result = run_query(
            'select seed_name, row_key, problem from ' ~ this
            ~ ' order by seed_name, row_key, problem') -%}
        {%- if result.rows | length > 0 -%}
            {%- set lines = [] -%}
            {%- for row in result.rows -%}
                {%- do lines.append('  - ' ~ row[0] ~ ' row ' ~ row[1] ~ ': ' ~ row[2]) -%}
            {%- endfor -%}
            {{ exceptions.raise_compiler_error(
                'Bad rows in the quota and commission seeds (dbt_project/seeds/quota/); fix them '
                ~ 'and rerun (see docs/quota-and-commission.md):\n' ~ (lines | join('\n'))) }}
        {%- endif -%}
    {%- endif -%}
    select 1 as seeds_are_valid
{%- endmacro %}
