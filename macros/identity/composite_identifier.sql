{#- SQL for the value of a composite identifier: its parts (columns of a source, in the order of the type's
    parts), each normalized by its rule, joined by '|'; null when any part is missing, so a key with a missing
    part is no key. -#}
{% macro composite_identifier(columns, parts) -%}
    {{ return(adapter.dispatch('composite_identifier', 'cdp')(columns, parts)) }}
{%- endmacro %}

{% macro default__composite_identifier(columns, parts) -%}
    {%- set normalized = [] -%}
    {%- for part in parts -%}
        {%- do normalized.append(cdp.normalize_key_part(columns[loop.index0], part.rule)) -%}
    {%- endfor -%}
    case
        when {% for value in normalized %}{{ value }} is null{% if not loop.last %} or {% endif %}{% endfor %} then null
        else {{ normalized | join(" || '|' || ") }}
    end
{%- endmacro %}
