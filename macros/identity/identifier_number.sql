{#- A stable number in [0, 2147483647) for an identifier (type and value): the same on every build, unlike node
    ids. The incremental identity build fingerprints each component's links with it. -#}
{% macro identifier_number(type_expression, value_expression) -%}
    {{ return(adapter.dispatch('identifier_number', 'cdp')(type_expression, value_expression)) }}
{%- endmacro %}

{% macro default__identifier_number(type_expression, value_expression) -%}
    {#- hash() returns a 64-bit integer on DuckDB, Spark and Databricks. -#}
    (cast(hash({{ type_expression }} || ':' || {{ value_expression }}) % 2147483647 as {{ dbt.type_bigint() }}))
{%- endmacro %}

{% macro postgres__identifier_number(type_expression, value_expression) -%}
    {#- PostgreSQL has no hash(); hashtextextended is its stable 64-bit text hash. -#}
    abs(hashtextextended({{ type_expression }} || ':' || {{ value_expression }}, 0) % 2147483647)
{%- endmacro %}

{% macro snowflake__identifier_number(type_expression, value_expression) -%}
    abs(hash({{ type_expression }} || ':' || {{ value_expression }}) % 2147483647)
{%- endmacro %}

{% macro bigquery__identifier_number(type_expression, value_expression) -%}
    {#- BigQuery's stable 64-bit hash is farm_fingerprint. -#}
    abs(mod(farm_fingerprint(concat({{ type_expression }}, ':', {{ value_expression }})), 2147483647))
{%- endmacro %}
