{#- Layers land in schemas named after the layer (staging, intermediate, marts, ...), not <target>_<layer>,
    so BI users and the sync service find the same names on every warehouse. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
