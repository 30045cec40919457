{#- The operators a condition may use on a field of each kind (the only place they are listed). 'is null' and
    'is not null' are the older spellings of 'is empty' and 'is not empty'. -#}
{% macro segment_operators(kind) -%}
    {%- set empty = ['is empty', 'is not empty', 'is null', 'is not null'] -%}
    {%- set by_kind = {
        'number': ['=', '!=', '>', '>=', '<', '<=', 'between', 'in', 'not in'] + empty,
        'text': ['=', '!=', 'in', 'not in'] + empty,
        'date': ['=', '!=', '>', '>=', '<', '<=', 'between', 'in last days', 'not in last days'] + empty,
        'boolean': ['=', '!=', 'is true', 'is false'] + empty,
        'any': ['=', '!=', '>', '>=', '<', '<=', 'in', 'not in'] + empty,
    } -%}
    {{ return(by_kind.get(kind, [])) }}
{%- endmacro %}
