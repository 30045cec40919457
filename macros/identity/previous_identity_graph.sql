{#- The identity_graph of the previous run, or none on the first run. Read (not ref'd) by the models that
    keep customer ids stable, before identity_graph itself is rebuilt. -#}
{% macro previous_identity_graph() -%}
    {%- if not execute -%}{{ return(none) }}{%- endif -%}
    {{ return(adapter.get_relation(database=(target.database or none), schema=generate_schema_name('identity', model), identifier='identity_graph')) }}
{%- endmacro %}
