{#- A FROM-clause item (after `cross join`) with one row per element of the JSON array held as text in
    `json_text` (a column of a relation earlier in the FROM clause): `value`, the element as JSON, and
    `position`, its 0-based index. Null, empty text and an empty array give no rows. -#}
{% macro json_array_elements(json_text, alias) -%}
    {{ return(adapter.dispatch('json_array_elements', 'cdp')(json_text, alias)) }}
{%- endmacro %}

{% macro default__json_array_elements(json_text, alias) -%}
    lateral (
        select
            elements.value,
            cast(elements.ordinality - 1 as {{ dbt.type_int() }}) as position
        from json_array_elements(cast(nullif(trim({{ json_text }}), '') as json)) with ordinality as elements (value, ordinality)
    ) as {{ alias }}
{%- endmacro %}

{# DuckDB has no json_array_elements: json_each walks the array, its key is the index. #}
{% macro duckdb__json_array_elements(json_text, alias) -%}
    lateral (
        select
            elements.value,
            cast(elements.key as {{ dbt.type_int() }}) as position
        from json_each(cast(nullif(trim({{ json_text }}), '') as json)) as elements
    ) as {{ alias }}
{%- endmacro %}
