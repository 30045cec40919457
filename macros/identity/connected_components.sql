{#- Connected components of an undirected graph held in `edges` (bigint columns node_a, node_b), written to
    `labels` (node, label): label is the smallest node id of the node's component. Min-label hooking of
    whole trees onto smaller neighbouring trees, then pointer doubling until every tree is a star, so chains
    converge in O(log n) rounds. Returns the number of hooking rounds; more than `max_rounds` is an error,
    never unconverged output. -#}
{% macro connected_components(edges, labels, max_rounds) -%}
    {{ return(adapter.dispatch('connected_components', 'cdp')(edges, labels, max_rounds)) }}
{%- endmacro %}

{% macro default__connected_components(edges, labels, max_rounds) -%}
    {%- set both = cdp.cc_work_relation(labels, '__both') -%}
    {%- set hooks = cdp.cc_work_relation(labels, '__hooks') -%}
    {%- set next_labels = cdp.cc_work_relation(labels, '__next') -%}
    {%- do run_query(cdp.cc_create_table(both,
        "select node_a as node, node_b as other from " ~ edges ~ " union all select node_b, node_a from " ~ edges)) -%}
    {%- do cdp.cc_analyze(both) -%}
    {%- do run_query(cdp.cc_create_table(labels,
        "select node, case when min(other) < node then min(other) else node end as label from " ~ both ~ " group by node")) -%}
    {%- set state = {'rounds': 0, 'converged': false} -%}
    {%- for round in range(max_rounds + 1) -%}
        {%- if not state.converged -%}
            {{ cdp.cc_make_stars(labels, next_labels) }}
            {%- do run_query(cdp.cc_create_table(hooks,
                "select own.label as root, min(neighbour.label) as target from " ~ both ~ " as pair"
                ~ " inner join " ~ labels ~ " as own on own.node = pair.node"
                ~ " inner join " ~ labels ~ " as neighbour on neighbour.node = pair.other"
                ~ " where neighbour.label < own.label group by own.label")) -%}
            {%- set hook_count = run_query("select count(*) from " ~ hooks).columns[0].values()[0] -%}
            {%- if hook_count == 0 -%}
                {%- do state.update({'converged': true}) -%}
            {%- elif round == max_rounds -%}
                {{ exceptions.raise_compiler_error("connected components did not converge within " ~ max_rounds ~ " rounds (dbt_project.yml: vars.cdp_identity.max_rounds); " ~ hook_count ~ " trees were still merging. Raise the cap or look for an unexpected hub.") }}
            {%- else -%}
                {%- do state.update({'rounds': state.rounds + 1}) -%}
                {%- do run_query(cdp.cc_create_table(next_labels,
                    "select current_label.node, coalesce(hook.target, current_label.label) as label from " ~ labels ~ " as current_label"
                    ~ " left join " ~ hooks ~ " as hook on hook.root = current_label.label")) -%}
                {%- do cdp.cc_replace(next_labels, labels) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do adapter.drop_relation(both) -%}
    {%- do adapter.drop_relation(hooks) -%}
    {{ return(state.rounds) }}
{%- endmacro %}

{#- Pointer doubling: label(v) := label(label(v)) until no label changes; each pass halves every path. -#}
{% macro cc_make_stars(labels, next_labels) -%}
    {%- set state = {'changed': 1} -%}
    {%- for pass in range(64) -%}
        {%- if state.changed > 0 -%}
            {%- do run_query(cdp.cc_create_table(next_labels,
                "select current_label.node, parent.label as label from " ~ labels ~ " as current_label"
                ~ " inner join " ~ labels ~ " as parent on parent.node = current_label.label")) -%}
            {%- set changed = run_query("select count(*) from " ~ next_labels ~ " as next_label inner join " ~ labels
                ~ " as current_label on current_label.node = next_label.node where current_label.label <> next_label.label").columns[0].values()[0] -%}
            {%- do state.update({'changed': changed}) -%}
            {%- do cdp.cc_replace(next_labels, labels) -%}
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}

{#- A working table beside `relation`, in the same schema. -#}
{% macro cc_work_relation(relation, suffix) -%}
    {{ return(relation.incorporate(path={'identifier': relation.identifier ~ suffix}, type='table')) }}
{%- endmacro %}

{% macro cc_create_table(relation, sql) -%}
    {{ return("drop table if exists " ~ relation ~ "; create table " ~ relation ~ " as " ~ sql) }}
{%- endmacro %}

{% macro cc_replace(source_relation, target_relation) -%}
    {%- do run_query("drop table if exists " ~ target_relation ~ "; alter table " ~ source_relation ~ " rename to " ~ target_relation.identifier) -%}
    {%- do cdp.cc_analyze(target_relation) -%}
{%- endmacro %}

{% macro cc_analyze(relation) -%}
    {{ return(adapter.dispatch('cc_analyze', 'cdp')(relation)) }}
{%- endmacro %}

{% macro default__cc_analyze(relation) -%}
{%- endmacro %}

{# PostgreSQL plans the next round's joins from statistics; fresh tables have none until analyzed. #}
{% macro postgres__cc_analyze(relation) -%}
    {%- do run_query("analyze " ~ relation) -%}
{%- endmacro %}
