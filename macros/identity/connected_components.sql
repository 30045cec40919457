{#- Connected components of an undirected graph held in `edges` (bigint columns node_a, node_b), written to
    `labels` (node, label): label is the smallest node id of the node's component. Returns the number of
    rounds; more than `max_rounds` is an error, never unconverged output.

    Each round works on the contracted graph only (one node per tree found so far): every node hooks onto
    its smallest smaller neighbour, pointer doubling flattens those hooks to their roots, and the edges are
    rewritten between roots (self-loops and duplicates dropped), so the graph shrinks round after round and
    chains converge in O(log n) rounds. A round is two or three statements sent in one batch. At the end the
    hooks of every round are composed backwards into each node's final label. -#}
{% macro connected_components(edges, labels, max_rounds) -%}
    {{ return(adapter.dispatch('connected_components', 'cdp')(edges, labels, max_rounds)) }}
{%- endmacro %}

{% macro default__connected_components(edges, labels, max_rounds) -%}
    {%- set work = cdp.cc_work_relation(labels, '__edges') -%}
    {%- set next_work = cdp.cc_work_relation(labels, '__edges_next') -%}
    {%- set hooks = cdp.cc_work_relation(labels, '__hooks') -%}
    {%- set next_hooks = cdp.cc_work_relation(labels, '__hooks_next') -%}
    {%- set resolved = cdp.cc_work_relation(labels, '__resolved') -%}
    {%- set next_resolved = cdp.cc_work_relation(labels, '__resolved_next') -%}
    {#- Round 0 reads the input directly, each link once with node_a < node_b; later rounds read the contracted graph. -#}
    {%- set input = "(select case when node_a < node_b then node_a else node_b end as node_a,"
        ~ " case when node_a < node_b then node_b else node_a end as node_b from " ~ edges ~ " where node_a <> node_b)" -%}
    {%- set state = {'rounds': 0, 'remaining': 1, 'unsettled': 0, 'self_links': 0} -%}
    {%- for round in range(max_rounds + 1) -%}
        {%- if state.remaining > 0 -%}
            {%- if round == max_rounds -%}
                {{ exceptions.raise_compiler_error("connected components did not converge within " ~ max_rounds ~ " rounds (dbt_project.yml: vars.cdp_identity.max_rounds); " ~ state.remaining ~ " links between trees were still left. Raise the cap or look for an unexpected hub.") }}
            {%- endif -%}
            {%- set links = input if round == 0 else work -%}
            {%- set round_hooks = cdp.cc_work_relation(labels, '__hooks_' ~ round) -%}
            {#- Hook every node onto its smallest smaller neighbour, with a first doubling step; then double until
                no node points at a node that is itself hooked (the first round also counts self-links). -#}
            {%- set unsettled_sql = cdp.cc_count_unsettled(hooks) -%}
            {%- if round == 0 -%}
                {%- set unsettled_sql = "select (" ~ unsettled_sql ~ "), (select count(*) from " ~ edges ~ " where node_a = node_b)" -%}
            {%- endif -%}
            {%- set result = run_query(cdp.cc_create_table(hooks,
                "with hook as (select node_b as node, min(node_a) as parent from " ~ links ~ " as link group by node_b)"
                ~ " select hook.node, coalesce(grandparent.parent, hook.parent) as parent from hook"
                ~ " left join hook as grandparent on grandparent.node = hook.parent")
                ~ cdp.cc_analyze_sql(hooks) ~ "; " ~ unsettled_sql).rows[0] -%}
            {%- do state.update({'unsettled': result[0]}) -%}
            {%- if round == 0 -%}{%- do state.update({'self_links': result[1]}) -%}{%- endif -%}
            {%- for pass in range(64) -%}
                {%- if state.unsettled > 0 -%}
                    {%- do state.update({'unsettled': run_query(cdp.cc_create_table(next_hooks,
                        "select hook.node, coalesce(grandparent.parent, hook.parent) as parent from " ~ hooks ~ " as hook"
                        ~ " left join " ~ hooks ~ " as grandparent on grandparent.node = hook.parent")
                        ~ "; drop table " ~ hooks ~ "; alter table " ~ next_hooks ~ " rename to " ~ hooks.identifier
                        ~ cdp.cc_analyze_sql(hooks) ~ "; " ~ cdp.cc_count_unsettled(hooks)).columns[0].values()[0]}) -%}
                {%- endif -%}
            {%- endfor -%}
            {#- Contract: rewrite the links between roots; the hooks of this round are kept for the end. -#}
            {%- do state.update({'remaining': run_query(cdp.cc_create_table(next_work,
                "select distinct case when node_a < node_b then node_a else node_b end as node_a,"
                ~ " case when node_a < node_b then node_b else node_a end as node_b from ("
                ~ "select coalesce(hook_a.parent, link.node_a) as node_a, coalesce(hook_b.parent, link.node_b) as node_b"
                ~ " from " ~ links ~ " as link left join " ~ hooks ~ " as hook_a on hook_a.node = link.node_a"
                ~ " left join " ~ hooks ~ " as hook_b on hook_b.node = link.node_b) as moved where node_a <> node_b")
                ~ "; drop table if exists " ~ work ~ "; alter table " ~ next_work ~ " rename to " ~ work.identifier
                ~ cdp.cc_analyze_sql(work) ~ "; drop table if exists " ~ round_hooks
                ~ "; alter table " ~ hooks ~ " rename to " ~ round_hooks.identifier
                ~ "; select count(*) from " ~ work).columns[0].values()[0], 'rounds': round + 1}) -%}
        {%- endif -%}
    {%- endfor -%}
    {#- Compose the hooks backwards: a node hooked in round k points at a root of round k, which is either final
        or hooked in a later round and already resolved. Roots label themselves; so do nodes with only self-links. -#}
    {%- set statements = [] -%}
    {%- if state.rounds > 0 -%}
        {%- set last = cdp.cc_work_relation(labels, '__hooks_' ~ (state.rounds - 1)) -%}
        {%- do statements.append(cdp.cc_create_table(resolved, "select node, parent from " ~ last) ~ cdp.cc_analyze_sql(resolved)) -%}
        {%- for round in range(state.rounds - 2, 0, -1) -%}
            {%- do statements.append(cdp.cc_create_table(next_resolved,
                "select hook.node, coalesce(later.parent, hook.parent) as parent from " ~ cdp.cc_work_relation(labels, '__hooks_' ~ round)
                ~ " as hook left join " ~ resolved ~ " as later on later.node = hook.parent union all select node, parent from " ~ resolved)
                ~ "; drop table " ~ resolved ~ "; alter table " ~ next_resolved ~ " rename to " ~ resolved.identifier ~ cdp.cc_analyze_sql(resolved)) -%}
        {%- endfor -%}
        {%- if state.rounds == 1 -%}
            {%- do statements.append(cdp.cc_create_table(labels, "select node, parent as label from " ~ last)) -%}
        {%- else -%}
            {%- do statements.append(cdp.cc_create_table(labels,
                "select hook.node, coalesce(later.parent, hook.parent) as label from " ~ cdp.cc_work_relation(labels, '__hooks_0')
                ~ " as hook left join " ~ resolved ~ " as later on later.node = hook.parent union all select node, parent from " ~ resolved)) -%}
        {%- endif -%}
        {%- do statements.append("insert into " ~ labels ~ " (node, label) select label, label from " ~ labels ~ " group by label") -%}
    {%- else -%}
        {%- do statements.append(cdp.cc_create_table(labels, "select node_a as node, node_b as label from " ~ edges ~ " where 1 = 0")) -%}
    {%- endif -%}
    {%- if state.self_links > 0 -%}
        {%- do statements.append("insert into " ~ labels ~ " (node, label) select distinct node_a, node_a from " ~ edges
            ~ " where node_a = node_b and node_a not in (select node from " ~ labels ~ ")") -%}
    {%- endif -%}
    {%- for round in range(state.rounds) -%}
        {%- do statements.append("drop table if exists " ~ cdp.cc_work_relation(labels, '__hooks_' ~ round)) -%}
    {%- endfor -%}
    {%- do statements.append("drop table if exists " ~ resolved ~ "; drop table if exists " ~ work ~ cdp.cc_analyze_sql(labels)) -%}
    {%- do run_query(statements | join('; ')) -%}
    {{ return(state.rounds) }}
{%- endmacro %}

{#- How many hooked nodes still point at a node that is itself hooked (0 once every hook is a root). -#}
{% macro cc_count_unsettled(hooks) -%}
    {{ return("select count(*) from " ~ hooks ~ " where parent in (select node from " ~ hooks ~ ")") }}
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
    {%- set sql = cdp.cc_analyze_sql(relation) -%}
    {%- if sql -%}{%- do run_query(sql.lstrip('; ')) -%}{%- endif -%}
{%- endmacro %}

{#- A statement (with its leading "; ") refreshing the planner statistics of a fresh table, where needed. -#}
{% macro cc_analyze_sql(relation) -%}
    {{ return(adapter.dispatch('cc_analyze_sql', 'cdp')(relation)) }}
{%- endmacro %}

{% macro default__cc_analyze_sql(relation) -%}
    {{ return("") }}
{%- endmacro %}

{# PostgreSQL plans the next round's joins from statistics; fresh tables have none until analyzed. #}
{% macro postgres__cc_analyze_sql(relation) -%}
    {{ return("; analyze " ~ relation) }}
{%- endmacro %}
