{#- The log table the identity_components materialization appends one row to per run (beside
    int_identity_components). Referencing int_identity_components makes dbt build it first. -#}
{% macro identity_component_runs() -%}
    {%- set components = ref('int_identity_components') -%}
    {{ return(components.incorporate(path={'identifier': 'identity_component_runs'})) }}
{%- endmacro %}
