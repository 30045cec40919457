{#- A column type as the YAML declares it (contracts, seeds: varchar, double precision, numeric(p, s)), in this
    warehouse's spelling. -#}
{% macro declared_type(data_type) -%}
    {{ return(adapter.dispatch('declared_type', 'cdp')(data_type)) }}
{%- endmacro %}

{% macro default__declared_type(data_type) -%}
    {{ return(data_type) }}
{%- endmacro %}

{# Spark has no unsized varchar, no double precision and calls numeric decimal. #}
{% macro spark__declared_type(data_type) -%}
    {%- set lowered = data_type | trim | lower -%}
    {%- if lowered in ('varchar', 'text') -%}
        {{ return('string') }}
    {%- elif lowered == 'double precision' -%}
        {{ return('double') }}
    {%- elif lowered.startswith('numeric') -%}
        {{ return('decimal' ~ lowered[7:]) }}
    {%- endif -%}
    {{ return(data_type) }}
{%- endmacro %}

{#- dbt's cast (contract checks cast null to each declared type) with the declared type in Spark's spelling. -#}
{% macro spark__cast(field, type) -%}
    cast({{ field }} as {{ cdp.declared_type(type) }})
{%- endmacro %}
