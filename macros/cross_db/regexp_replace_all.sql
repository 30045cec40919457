{#- Replace every match of `pattern` in `expression` with `replacement`. -#}
{% macro regexp_replace_all(expression, pattern, replacement) -%}
    {{ return(adapter.dispatch('regexp_replace_all', 'cdp')(expression, pattern, replacement)) }}
{%- endmacro %}

{# Snowflake, BigQuery, Databricks and Spark replace every match by default. #}
{% macro default__regexp_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, {{ pattern }}, {{ replacement }})
{%- endmacro %}

{# DuckDB replaces only the first match unless given the 'g' option. #}
{% macro duckdb__regexp_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, {{ pattern }}, {{ replacement }}, 'g')
{%- endmacro %}

{# PostgreSQL replaces only the first match unless given the 'g' flag. #}
{% macro postgres__regexp_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, {{ pattern }}, {{ replacement }}, 'g')
{%- endmacro %}

{# Spark: Java regexes, without POSIX classes (cdp.spark_regex). #}
{% macro spark__regexp_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, {{ cdp.spark_regex(pattern) }}, {{ replacement }})
{%- endmacro %}
