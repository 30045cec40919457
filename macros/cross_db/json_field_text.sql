{#- The text of one field of a JSON object (null when the field is missing or null): ->> on both engines. -#}
{% macro json_field_text(json_value, field) -%}
    {{ return(adapter.dispatch('json_field_text', 'cdp')(json_value, field)) }}
{%- endmacro %}

{% macro default__json_field_text(json_value, field) -%}
    ({{ json_value }} ->> '{{ field }}')
{%- endmacro %}
