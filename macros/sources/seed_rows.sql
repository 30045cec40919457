{#- The rows of a seed, read at compile time, for rules that become SQL literals (dialling plans, event names).
    ref() makes the seed build first; a unit test (whose model may have only its fixture inputs) reads the same
    relation through the graph. A seed not loaded yet is a compile error saying to run dbt seed. -#}
{% macro seed_rows(seed_name, columns, needed_by=none) -%}
    {{ return(adapter.dispatch('seed_rows', 'cdp')(seed_name, columns, needed_by)) }}
{%- endmacro %}

{% macro default__seed_rows(seed_name, columns, needed_by) -%}
    {%- if model is mapping and model.get('resource_type') == 'unit_test' -%}
        {%- set seed = (graph.get('nodes') or {}).get('seed.cdp.' ~ seed_name) or {} -%}
        {%- set relation = api.Relation.create(
            database=seed.get('database', target.database or none),
            schema=seed.get('schema', generate_schema_name('config', none)),
            identifier=seed.get('alias', seed_name)) -%}
    {%- else -%}
        {%- set relation = ref(seed_name) -%}
    {%- endif -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- if adapter.get_relation(relation.database, relation.schema, relation.identifier) is none -%}
        {{ exceptions.raise_compiler_error((needed_by ~ ": " if needed_by else "") ~ "the seed " ~ seed_name ~ " (seeds/" ~ seed_name ~ ".csv) is not loaded yet; run dbt seed (dbt build does it first)") }}
    {%- endif -%}
    {%- set query = "select " ~ columns | join(', ') ~ " from " ~ relation ~ " order by 1" -%}
    {{ return(run_query(query).rows) }}
{%- endmacro %}
