{#- Aggregate: an array of text (DuckDB varchar[], PostgreSQL text[]) of the non-null values of `column` in
    ascending order; null when there are none. array_agg with ORDER BY is the same on both engines. -#}
{% macro string_array_agg(column) -%}
    {{ return(adapter.dispatch('string_array_agg', 'cdp')(column)) }}
{%- endmacro %}

{% macro default__string_array_agg(column) -%}
    array_agg(cast({{ column }} as {{ dbt.type_string() }}) order by {{ column }}) filter (where {{ column }} is not null)
{%- endmacro %}

{# Spark: collect_list skips nulls; array_sort puts the texts in ascending order (array<string>). #}
{% macro spark__string_array_agg(column) -%}
    case when count({{ column }}) > 0
        then array_sort(collect_list(cast({{ column }} as {{ dbt.type_string() }}))) end
{%- endmacro %}
