{#- True when `expression` matches the regular expression `pattern` anywhere. -#}
{% macro regexp_matches(expression, pattern) -%}
    {{ return(adapter.dispatch('regexp_matches', 'cdp')(expression, pattern)) }}
{%- endmacro %}

{% macro default__regexp_matches(expression, pattern) -%}
    regexp_like({{ expression }}, {{ pattern }})
{%- endmacro %}

{# DuckDB names the function regexp_matches. #}
{% macro duckdb__regexp_matches(expression, pattern) -%}
    regexp_matches({{ expression }}, {{ pattern }})
{%- endmacro %}

{# PostgreSQL has an operator instead of a function. #}
{% macro postgres__regexp_matches(expression, pattern) -%}
    ({{ expression }} ~ {{ pattern }})
{%- endmacro %}

{# BigQuery calls it regexp_contains. #}
{% macro bigquery__regexp_matches(expression, pattern) -%}
    regexp_contains({{ expression }}, {{ pattern }})
{%- endmacro %}

{# Spark: Java regexes, without POSIX classes (cdp.spark_regex). #}
{% macro spark__regexp_matches(expression, pattern) -%}
    regexp_like({{ expression }}, {{ cdp.spark_regex(pattern) }})
{%- endmacro %}
