{#- Whether a value is a whole number of 1 or more (a count of days or of events): not a boolean, not text,
    not infinite. -#}
{% macro segment_is_count(value) -%}
    {%- set finite = value is number and value is not sameas true and value is not sameas false and (value | string) not in ['inf', '-inf', 'nan'] -%}
    {{ return(finite and value == value | int and value >= 1) }}
{%- endmacro %}
