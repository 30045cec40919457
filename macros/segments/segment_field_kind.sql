{#- The kind of a field from its contract data type: number, text, date or boolean; 'any' when the type is
    unknown (dbt unit tests render without the project graph), where the operators of every kind apply. -#}
{% macro segment_field_kind(data_type) -%}
    {%- set type = (data_type or '') | lower -%}
    {%- if type == '' -%}
        {{ return('any') }}
    {%- elif 'bool' in type -%}
        {{ return('boolean') }}
    {%- elif 'timestamp' in type or 'date' in type -%}
        {{ return('date') }}
    {%- elif 'char' in type or 'text' in type or 'string' in type -%}
        {{ return('text') }}
    {%- elif 'int' in type or 'double' in type or 'numeric' in type or 'decimal' in type or 'float' in type or 'real' in type -%}
        {{ return('number') }}
    {%- endif -%}
    {{ return('unsupported') }}
{%- endmacro %}
