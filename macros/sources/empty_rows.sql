{#- A query returning no rows with the columns and types a model declares (its contract): what a staging model
    of a switched-off source family selects, so every model downstream still compiles and builds. -#}
{% macro empty_rows(columns) -%}
    {{ return(adapter.dispatch('empty_rows', 'cdp')(columns)) }}
{%- endmacro %}

{% macro default__empty_rows(columns) -%}
    {%- if execute and columns | length == 0 -%}
        {{ exceptions.raise_compiler_error(model.name ~ ": empty_rows needs the model's columns declared with data_type in its YAML") }}
    {%- endif -%}
    select
    {%- for column in columns.values() %}
        {%- if execute and not column.data_type -%}
            {{ exceptions.raise_compiler_error(model.name ~ "." ~ column.name ~ ": declare its data_type in the model's YAML") }}
        {%- endif %}
        cast(null as {{ cdp.declared_type(column.data_type) }}) as {{ column.name }}{{ "," if not loop.last }}
    {%- endfor %}
    where 1 = 0
{%- endmacro %}
