{#- Aggregate: a JSON array (as text) of the non-null values of `column` in ascending order, over the rows
    where `condition` holds; null when there are none. -#}
{% macro json_array_agg(column, condition='true') -%}
    {{ return(adapter.dispatch('json_array_agg', 'cdp')(column, condition)) }}
{%- endmacro %}

{% macro default__json_array_agg(column, condition) -%}
    cast(json_agg({{ column }} order by {{ column }}) filter (where {{ condition }} and {{ column }} is not null) as {{ dbt.type_string() }})
{%- endmacro %}

{# DuckDB builds a list and turns it into JSON (it has no json_agg with ordering). #}
{% macro duckdb__json_array_agg(column, condition) -%}
    cast(to_json(list({{ column }} order by {{ column }}) filter (where {{ condition }} and {{ column }} is not null)) as {{ dbt.type_string() }})
{%- endmacro %}

{# Spark collects the values (collect_list skips nulls), sorts them and writes the array as JSON. #}
{% macro spark__json_array_agg(column, condition) -%}
    case when count(case when {{ condition }} then {{ column }} end) > 0
        then to_json(array_sort(collect_list(case when {{ condition }} then {{ column }} end))) end
{%- endmacro %}
