{#- An 8-byte floating point type (dbt.type_float() is a 4-byte float on DuckDB). -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'cdp')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double precision
{%- endmacro %}

{# BigQuery has one floating point type, FLOAT64. #}
{% macro bigquery__type_double() -%}
    float64
{%- endmacro %}

{# Spark names it double. #}
{% macro spark__type_double() -%}
    double
{%- endmacro %}
