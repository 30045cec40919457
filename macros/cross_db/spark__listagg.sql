{#- dbt's listagg on Spark ignores the order: collect_list has no order. Every listagg in this project orders by
    the aggregated value itself, so the collected values are sorted (collect_set for distinct values). -#}
{% macro spark__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- set stripped = measure | trim -%}
    {%- if stripped.lower().startswith('distinct ') -%}
        {%- set collected = 'collect_set(' ~ stripped[9:] ~ ')' -%}
    {%- else -%}
        {%- set collected = 'collect_list(' ~ stripped ~ ')' -%}
    {%- endif -%}
    {%- if limit_num -%}
        {%- set collected = 'slice(array_sort(' ~ collected ~ '), 1, ' ~ limit_num ~ ')' -%}
    {%- else -%}
        {%- set collected = 'array_sort(' ~ collected ~ ')' -%}
    {%- endif -%}
    {{ return('array_join(' ~ collected ~ ', ' ~ delimiter_text ~ ')') }}
{%- endmacro %}
