{#- Trim surrounding white space; an empty result becomes null. -#}
{% macro clean_string(column) -%}
    {{ return(adapter.dispatch('clean_string', 'cdp')(column)) }}
{%- endmacro %}

{% macro default__clean_string(column) -%}
    nullif(trim(cast({{ column }} as {{ dbt.type_string() }})), '')
{%- endmacro %}
