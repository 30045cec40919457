{#- Operation: connected components of any edge table (bigint node_a, node_b) in `schema`, for tests,
    benchmarks and ad-hoc graphs. Writes <labels> (node, label) and <labels>_rounds (rounds).
    dbt run-operation run_connected_components --args '{schema: scratch, edges: my_edges, labels: my_labels}'
    set_based: true runs the portable set-based rounds (default__connected_components) on every warehouse, to
    compare a warehouse's own variant with them. -#}
{% macro run_connected_components(schema, edges, labels, max_rounds=40, set_based=false) -%}
    {%- set edge_relation = api.Relation.create(database=(target.database or none), schema=schema, identifier=edges, type='table') -%}
    {%- set label_relation = api.Relation.create(database=(target.database or none), schema=schema, identifier=labels, type='table') -%}
    {#- One transaction (opened the dbt way, on every adapter): all or nothing, and DuckDB does not commit
        each working table to disk on its own. -#}
    {%- call statement('connected_components_begin', auto_begin=True) -%}select 1{%- endcall -%}
    {%- set started = modules.datetime.datetime.utcnow() -%}
    {%- set solve = cdp.default__connected_components if set_based else cdp.connected_components -%}
    {%- set rounds = solve(edge_relation, label_relation, max_rounds) -%}
    {%- set seconds = (modules.datetime.datetime.utcnow() - started).total_seconds() -%}
    {%- set stats = label_relation.incorporate(path={'identifier': labels ~ '_rounds'}) -%}
    {%- do run_query("drop table if exists " ~ stats ~ "; create table " ~ stats ~ " as select " ~ rounds ~ " as rounds, "
        ~ seconds ~ " as seconds") -%}
    {%- do adapter.commit() -%}
    {{ log("connected components: " ~ rounds ~ " rounds, " ~ seconds ~ " s", info=true) }}
{%- endmacro %}
