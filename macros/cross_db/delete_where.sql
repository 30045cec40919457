{#- Statements deleting the rows of `relation` (aliased `alias`) for which `condition` holds. -#}
{% macro delete_where(relation, condition, alias='target_row') -%}
    {{ return(adapter.dispatch('delete_where', 'cdp')(relation, condition, alias)) }}
{%- endmacro %}

{% macro default__delete_where(relation, condition, alias) -%}
    delete from {{ relation }} as {{ alias }} where {{ condition }}
{%- endmacro %}

{# Plain Spark tables have no DELETE: the kept rows are written to a new table that replaces the old one. #}
{% macro spark__delete_where(relation, condition, alias) -%}
    {%- set kept = relation.incorporate(path={'identifier': relation.identifier ~ '__kept'}) -%}
    drop table if exists {{ kept }};
    create table {{ kept }} using parquet as
    select * from {{ relation }} as {{ alias }} where not coalesce(({{ condition }}), false);
    drop table {{ relation }};
    alter table {{ kept }} rename to {{ relation }}
{%- endmacro %}
