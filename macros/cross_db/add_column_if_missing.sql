{#- A statement adding `column` of `data_type` to `relation` unless it already has it. -#}
{% macro add_column_if_missing(relation, column, data_type) -%}
    {{ return(adapter.dispatch('add_column_if_missing', 'cdp')(relation, column, data_type)) }}
{%- endmacro %}

{% macro default__add_column_if_missing(relation, column, data_type) -%}
    {{ return("alter table " ~ relation ~ " add column if not exists " ~ column ~ " " ~ data_type) }}
{%- endmacro %}

{# Spark has no "if not exists" for columns: the relation's columns are looked up when the statement is made. #}
{% macro spark__add_column_if_missing(relation, column, data_type) -%}
    {%- set existing = load_relation(relation) -%}
    {%- if existing is not none and column | lower in (adapter.get_columns_in_relation(existing) | map(attribute='name') | map('lower') | list) -%}
        {{ return("select 1") }}
    {%- endif -%}
    {{ return("alter table " ~ relation ~ " add columns (" ~ column ~ " " ~ data_type ~ ")") }}
{%- endmacro %}
