{#- Aggregate: the non-null values of `column` (text) joined by `delimiter_text` in ascending order; null when there
    are none. dbt's listagg with the values ordered by themselves, except on DuckDB: its ordered string_agg
    buffers and sorts every group apart, and a plain list sorted afterwards (list_sort) gives the same text in
    less time (int_identity_nodes' source lists). -#}
{% macro sorted_listagg(column, delimiter_text) -%}
    {{ return(adapter.dispatch('sorted_listagg', 'cdp')(column, delimiter_text)) }}
{%- endmacro %}

{% macro default__sorted_listagg(column, delimiter_text) -%}
    {{ dbt.listagg(column, delimiter_text, 'order by ' ~ column) }}
{%- endmacro %}

{% macro duckdb__sorted_listagg(column, delimiter_text) -%}
    array_to_string(list_sort(list({{ column }}) filter (where {{ column }} is not null)), {{ delimiter_text }})
{%- endmacro %}
