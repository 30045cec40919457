{#- PostgreSQL's connected components: one union-find pass in a PL/pgSQL loop instead of set-based rounds.
    PostgreSQL runs each set-based round as several full hash joins, sorts and table rewrites (and plans them
    from statistics that a fresh table lacks), so the rounds cost 10-20 times DuckDB's; one pass of a
    union-find over the links, held in integer arrays, costs about what one of those rounds did. The result is
    the same as default__connected_components: every node of a link, labelled with the smallest node id of
    its component, and nodes with only self-links labelled with themselves. The pass always finishes (no
    rounds to cap); it returns 1 round (0 with no links).

    Node ids index the arrays: directly (id minus the smallest id) when they are dense enough, as the
    identity graph's ids are (numbered 1..n once); through a temporary numbering in id order otherwise. Both
    keep the order of ids, so the root of every tree (the smallest index) is the smallest node id. -#}
{% macro postgres__connected_components(edges, labels, max_rounds) -%}
    {%- set stats = run_query("select count(*) filter (where node_a <> node_b), min(least(node_a, node_b)) filter (where node_a <> node_b),"
        ~ " max(greatest(node_a, node_b)) filter (where node_a <> node_b), count(*) filter (where node_a = node_b) from " ~ edges).rows[0] -%}
    {%- set links, smallest, largest, self_links = stats[0], stats[1], stats[2], stats[3] -%}
    {%- set statements = [cdp.cc_union_find_function()] -%}
    {%- if links == 0 -%}
        {%- do statements.append(cdp.cc_create_table(labels, "select node_a as node, node_b as label from " ~ edges ~ " where 1 = 0")) -%}
    {%- elif largest - smallest < [8 * links + 1024, 2147483647] | min -%}
        {#- Dense ids: index = id - offset (1 for the smallest id). One scan builds both arrays, in the same order. -#}
        {%- set offset = smallest - 1 -%}
        {%- do statements.append(cdp.cc_create_table(labels,
            "select found.position + " ~ offset ~ " as node, cast(found.root as bigint) + " ~ offset ~ " as label"
            ~ " from (select array_agg(cast(node_a - " ~ offset ~ " as integer)) as ends_a, array_agg(cast(node_b - " ~ offset ~ " as integer)) as ends_b"
            ~ " from " ~ edges ~ " where node_a <> node_b) as link_ends"
            ~ " cross join lateral unnest(pg_temp.cdp_cc_union_find(link_ends.ends_a, link_ends.ends_b, " ~ (largest - offset) ~ "))"
            ~ " with ordinality as found (root, position) where found.root <> found.position")) -%}
    {%- else -%}
        {#- Sparse ids: number the linked nodes in id order first. -#}
        {%- set numbered = cdp.cc_temp_name('numbered') -%}
        {%- do statements.append(cdp.cc_create_temp_table(numbered,
            "select node, cast(row_number() over (order by node) as integer) as position from (select node_a as node from " ~ edges
            ~ " where node_a <> node_b union select node_b from " ~ edges ~ " where node_a <> node_b) as linked")
            ~ "; create unique index on " ~ numbered ~ " (position)" ~ cdp.cc_analyze_sql(numbered)) -%}
        {%- do statements.append(cdp.cc_create_table(labels,
            "select member.node, root.node as label from (select array_agg(end_a.position) as ends_a, array_agg(end_b.position) as ends_b from "
            ~ edges ~ " as link inner join " ~ numbered ~ " as end_a on end_a.node = link.node_a inner join " ~ numbered
            ~ " as end_b on end_b.node = link.node_b where link.node_a <> link.node_b) as link_ends"
            ~ " cross join lateral unnest(pg_temp.cdp_cc_union_find(link_ends.ends_a, link_ends.ends_b, (select cast(count(*) as integer) from " ~ numbered ~ ")))"
            ~ " with ordinality as found (root, position) inner join " ~ numbered ~ " as member on member.position = found.position inner join "
            ~ numbered ~ " as root on root.position = found.root where found.root <> found.position")
            ~ "; drop table " ~ numbered) -%}
    {%- endif -%}
    {#- The union-find returns the nodes that are not roots; every root is the label of some of them. -#}
    {%- do statements.append("insert into " ~ labels ~ " (node, label) select label, label from " ~ labels ~ " group by label") -%}
    {%- if self_links > 0 -%}
        {%- do statements.append("insert into " ~ labels ~ " (node, label) select distinct node_a, node_a from " ~ edges
            ~ " where node_a = node_b and node_a not in (select node from " ~ labels ~ ")") -%}
    {%- endif -%}
    {%- do run_query(statements | join('; ') ~ cdp.cc_analyze_sql(labels)) -%}
    {{ return(1 if links > 0 else 0) }}
{%- endmacro %}

{#- A session-private function (pg_temp): union-find over the links (ends_a[i], ends_b[i]) of nodes 1..size,
    with path halving, always hooking the larger root under the smaller, so a parent is never larger than
    its node and one pass in index order then points every node at its root. Returns the roots, indexed by
    node (a root is its own). -#}
{% macro cc_union_find_function() -%}
    {%- set body -%}
create or replace function pg_temp.cdp_cc_union_find(ends_a integer[], ends_b integer[], size integer)
returns integer[] language plpgsql as $cdp_cc$
declare
    tree integer[] := array(select generate_series(1, size));
    a integer;
    b integer;
begin
    for i in 1 .. coalesce(cardinality(ends_a), 0) loop
        a := ends_a[i];
        b := ends_b[i];
        while tree[a] <> a loop tree[a] := tree[tree[a]]; a := tree[a]; end loop;
        while tree[b] <> b loop tree[b] := tree[tree[b]]; b := tree[b]; end loop;
        if a < b then tree[b] := a; elsif b < a then tree[a] := b; end if;
    end loop;
    for i in 1 .. size loop tree[i] := tree[tree[i]]; end loop;
    return tree;
end
$cdp_cc$
    {%- endset -%}
    {{ return(body) }}
{%- endmacro %}
