{#-
    rollup_levels(relation): every row of `relation` (a CTE with rep_id, manager_id, team and
    region columns) once per level of the sales hierarchy, with `level` (rep, manager, team,
    region, company) and `entity_id`: the row's rep, manager, team or region ('unassigned' when
    it has none), or 'company'. Summing by level and entity_id then rolls the rows up every
    level at once, and every rollup mart names its entities the same way.

    A cross join with the five levels, not a union of five selects over `relation`: engines
    that inline CTEs (Spark) would compute `relation` five times.
-#}
{% macro rollup_levels(relation) -%}
    select
        {{ relation }}.*,
        hierarchy_levels.level,
        case hierarchy_levels.level
            when 'rep' then coalesce({{ relation }}.rep_id, 'unassigned')
            when 'manager' then coalesce({{ relation }}.manager_id, 'unassigned')
            when 'team' then coalesce({{ relation }}.team, 'unassigned')
            when 'region' then coalesce({{ relation }}.region, 'unassigned')
            else 'company'
        end as entity_id
    from {{ relation }}
    cross join (
        {%- for level in ['rep', 'manager', 'team', 'region', 'company'] %}
        select '{{ level }}' as level
        {%- if not loop.last %} union all{% endif %}
        {%- endfor %}
    ) as hierarchy_levels
{%- endmacro %}
