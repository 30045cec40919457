{#- Connected components of an undirected graph held in `edges` (bigint columns node_a, node_b), written to
    `labels` (node, label): label is the smallest node id of the node's component. Returns the number of
    rounds; more than `max_rounds` is an error, never unconverged output.

    Each round works on the contracted graph only (one node per tree found so far): every node hooks onto
    its smallest smaller neighbour, pointer doubling flattens those hooks to their roots, and the edges are
    rewritten between roots (self-loops and duplicates dropped), so the graph shrinks round after round and
    chains converge in O(log n) rounds. A round is two statements sent in one batch (more only where hooks
    form long paths, as on a chain numbered in order). At the end the hooks of every round are composed
    backwards into each node's final label. Working tables are temporary (session-private, never logged or
    written to the database file); only `labels` is a table of the warehouse. -#}
{% macro connected_components(edges, labels, max_rounds) -%}
    {{ return(adapter.dispatch('connected_components', 'cdp')(edges, labels, max_rounds)) }}
{%- endmacro %}

{% macro default__connected_components(edges, labels, max_rounds) -%}
    {%- set work = cdp.cc_temp_name('edges') -%}
    {%- set next_work = cdp.cc_temp_name('edges_next') -%}
    {%- set hooks = cdp.cc_temp_name('hooks') -%}
    {%- set next_hooks = cdp.cc_temp_name('hooks_next') -%}
    {%- set resolved = cdp.cc_temp_name('resolved') -%}
    {%- set next_resolved = cdp.cc_temp_name('resolved_next') -%}
    {#- Round 0 reads the input directly, each link once with node_a < node_b; later rounds read the contracted graph. -#}
    {%- set input = "(select case when node_a < node_b then node_a else node_b end as node_a,"
        ~ " case when node_a < node_b then node_b else node_a end as node_b from " ~ edges ~ " where node_a <> node_b)" -%}
    {%- set state = {'rounds': 0, 'remaining': 1, 'unsettled': 0, 'self_links': 0} -%}
    {#- Round 0's hooks (the first statement also counts self-links); every later round's hooks are built in the
        batch that contracts the round before, so a round costs one round trip unless its hooks need more doubling. -#}
    {%- set result = run_query(cdp.cc_hook(input, hooks) ~ "; select (" ~ cdp.cc_count_unsettled(hooks) ~ "), (select count(*) from "
        ~ edges ~ " where node_a = node_b)").rows[0] -%}
    {%- do state.update({'unsettled': result[0], 'self_links': result[1]}) -%}
    {%- for round in range(max_rounds + 1) -%}
        {%- if state.remaining > 0 -%}
            {%- if round == max_rounds -%}
                {{ exceptions.raise_compiler_error("connected components did not converge within " ~ max_rounds ~ " rounds (dbt_project.yml: vars.cdp_identity.max_rounds); " ~ state.remaining ~ " links between trees were still left. Raise the cap or look for an unexpected hub.") }}
            {%- endif -%}
            {%- set links = input if round == 0 else work -%}
            {%- set round_hooks = cdp.cc_temp_name('hooks_' ~ round) -%}
            {#- Double (three steps a statement) until no node points at a node that is itself hooked. -#}
            {%- for pass in range(64) -%}
                {%- if state.unsettled > 0 -%}
                    {%- do state.update({'unsettled': run_query(cdp.cc_create_temp_table(next_hooks,
                        cdp.cc_doubled("select node, parent from " ~ hooks))
                        ~ "; drop table " ~ hooks ~ "; alter table " ~ next_hooks ~ " rename to " ~ hooks
                        ~ cdp.cc_analyze_sql(hooks) ~ "; " ~ cdp.cc_count_unsettled(hooks)).columns[0].values()[0]}) -%}
                {%- endif -%}
            {%- endfor -%}
            {#- Contract: rewrite the links between roots; the hooks of this round are kept for the end. Then hook
                the contracted graph (empty once every link is inside a tree). -#}
            {%- set result = run_query(cdp.cc_create_temp_table(next_work,
                "select distinct case when node_a < node_b then node_a else node_b end as node_a,"
                ~ " case when node_a < node_b then node_b else node_a end as node_b from ("
                ~ "select coalesce(hook_a.parent, link.node_a) as node_a, coalesce(hook_b.parent, link.node_b) as node_b"
                ~ " from " ~ links ~ " as link left join " ~ hooks ~ " as hook_a on hook_a.node = link.node_a"
                ~ " left join " ~ hooks ~ " as hook_b on hook_b.node = link.node_b) as moved where node_a <> node_b")
                ~ "; drop table if exists " ~ work ~ "; alter table " ~ next_work ~ " rename to " ~ work
                ~ cdp.cc_analyze_sql(work) ~ "; drop table if exists " ~ round_hooks
                ~ "; alter table " ~ hooks ~ " rename to " ~ round_hooks ~ "; " ~ cdp.cc_hook(work, hooks)
                ~ "; select (select count(*) from " ~ work ~ "), (" ~ cdp.cc_count_unsettled(hooks) ~ ")").rows[0] -%}
            {%- do state.update({'remaining': result[0], 'unsettled': result[1], 'rounds': round + 1}) -%}
        {%- endif -%}
    {%- endfor -%}
    {#- Compose the hooks backwards: a node hooked in round k points at a root of round k, which is either final
        or hooked in a later round and already resolved. Roots label themselves; so do nodes with only self-links. -#}
    {%- set statements = [] -%}
    {%- if state.rounds > 0 -%}
        {%- set last = cdp.cc_temp_name('hooks_' ~ (state.rounds - 1)) -%}
        {%- do statements.append(cdp.cc_create_temp_table(resolved, "select node, parent from " ~ last) ~ cdp.cc_analyze_sql(resolved)) -%}
        {%- for round in range(state.rounds - 2, 0, -1) -%}
            {%- do statements.append(cdp.cc_create_temp_table(next_resolved,
                "select hook.node, coalesce(later.parent, hook.parent) as parent from " ~ cdp.cc_temp_name('hooks_' ~ round)
                ~ " as hook left join " ~ resolved ~ " as later on later.node = hook.parent union all select node, parent from " ~ resolved)
                ~ "; drop table " ~ resolved ~ "; alter table " ~ next_resolved ~ " rename to " ~ resolved ~ cdp.cc_analyze_sql(resolved)) -%}
        {%- endfor -%}
        {%- if state.rounds == 1 -%}
            {%- do statements.append(cdp.cc_create_table(labels, "select node, parent as label from " ~ last)) -%}
        {%- else -%}
            {%- do statements.append(cdp.cc_create_table(labels,
                "select hook.node, coalesce(later.parent, hook.parent) as label from " ~ cdp.cc_temp_name('hooks_0')
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
        {%- do statements.append("drop table if exists " ~ cdp.cc_temp_name('hooks_' ~ round)) -%}
    {%- endfor -%}
    {%- do statements.append("drop table if exists " ~ hooks ~ "; drop table if exists " ~ resolved ~ "; drop table if exists " ~ work
        ~ cdp.cc_analyze_sql(labels)) -%}
    {%- do run_query(statements | join('; ')) -%}
    {{ return(state.rounds) }}
{%- endmacro %}

{#- How many hooked nodes still point at a node that is itself hooked (0 once every hook is a root). -#}
{% macro cc_count_unsettled(hooks) -%}
    {{ return("select count(*) from " ~ hooks ~ " where parent in (select node from " ~ hooks ~ ")") }}
{%- endmacro %}

{#- Statements writing `hooks` (node, parent): every node of `links` onto its smallest smaller neighbour, then
    three doubling steps. -#}
{% macro cc_hook(links, hooks) -%}
    {{ return(cdp.cc_create_temp_table(hooks, cdp.cc_doubled("select node_b as node, min(node_a) as parent from " ~ links
        ~ " as link group by node_b")) ~ cdp.cc_analyze_sql(hooks)) }}
{%- endmacro %}

{#- The hooks `hooks_sql` selects (node, parent) after three pointer-doubling steps: every node's parent becomes the node eight hooks up its
    path (or the root, if nearer). -#}
{% macro cc_doubled(hooks_sql) -%}
    {%- set ctes = ["step_0 as (" ~ hooks_sql ~ ")"] -%}
    {%- for step in range(1, 4) -%}
        {%- set previous = "step_" ~ (step - 1) -%}
        {%- do ctes.append("step_" ~ step ~ " as (select hook.node, coalesce(grandparent.parent, hook.parent) as parent from "
            ~ previous ~ " as hook left join " ~ previous ~ " as grandparent on grandparent.node = hook.parent)") -%}
    {%- endfor -%}
    {{ return("with " ~ ctes | join(", ") ~ " select node, parent from step_3") }}
{%- endmacro %}

{#- The name of a temporary working table (temporary tables live in a schema of their own, private to the
    session, so the name is not qualified). Runs in one session follow one another and each drops its tables,
    so the names are fixed, and short enough for every warehouse's identifier limit (63 on PostgreSQL). -#}
{% macro cc_temp_name(suffix) -%}
    {{ return("cdp_cc__" ~ suffix) }}
{%- endmacro %}

{% macro cc_create_temp_table(name, sql) -%}
    {{ return(adapter.dispatch('cc_create_temp_table', 'cdp')(name, sql)) }}
{%- endmacro %}

{% macro default__cc_create_temp_table(name, sql) -%}
    {{ return("drop table if exists " ~ name ~ "; create temporary table " ~ name ~ " as " ~ sql) }}
{%- endmacro %}

{# Spark has no temporary tables, and its temporary views are lazy (each round's lineage would grow with the
   rounds): every working table is a real table, written once per round. #}
{% macro spark__cc_create_temp_table(name, sql) -%}
    {{ return("drop table if exists " ~ name ~ "; create table " ~ name ~ " using parquet as " ~ sql) }}
{%- endmacro %}

{#- A working table beside `relation`, in the same schema. -#}
{% macro cc_work_relation(relation, suffix) -%}
    {{ return(relation.incorporate(path={'identifier': relation.identifier ~ suffix}, type='table')) }}
{%- endmacro %}

{% macro cc_create_table(relation, sql) -%}
    {{ return("drop table if exists " ~ relation ~ "; create table " ~ relation ~ " as " ~ sql) }}
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
