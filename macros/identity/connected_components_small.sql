{#- Connected components of a graph of small components (`edges`: bigint node_a, node_b) in one statement, for
    the limit rebuilds: every node reaches every node of its component (a recursive CTE), then takes the
    smallest id as its label, as connected_components does. The work grows with the square of a component's
    size, so callers use it only below a size they know (connected_components otherwise). -#}
{% macro connected_components_small(edges, labels) -%}
    {{ return(adapter.dispatch('connected_components_small', 'cdp')(edges, labels)) }}
{%- endmacro %}

{% macro default__connected_components_small(edges, labels) -%}
    {%- do run_query(cdp.cc_create_table(labels,
        "with recursive links as (select node_a as node, node_b as other from " ~ edges ~ " union select node_b, node_a from " ~ edges ~ "),"
        ~ " reach (node, label) as (select node, node from links union select links.other, reach.label from reach"
        ~ " inner join links on links.node = reach.node) select node, min(label) as label from reach group by node")
        ~ cdp.cc_analyze_sql(labels)) -%}
    {{ return(1) }}
{%- endmacro %}

{#- Spark's recursive CTEs take only UNION ALL, which never ends on a cycle, and each round of the iterative
    macro is several parquet writes: a graph of at most `max_edges` links is read into the driver once and
    solved there (min-label propagation, at most one pass per node of the largest component, which callers
    keep at 100), then written in one statement; a larger one runs connected_components. -#}
{% macro spark__connected_components_small(edges, labels, max_edges=2000) -%}
    {%- set result = run_query("select count(*) from " ~ edges).columns[0].values()[0] -%}
    {%- if result > max_edges -%}
        {{ return(cdp.connected_components(edges, labels, var('cdp_identity', {}).get('max_rounds', 40))) }}
    {%- endif -%}
    {%- set links = [] -%}
    {%- set label = {} -%}
    {%- for row in run_query("select node_a, node_b from " ~ edges).rows -%}
        {%- set link = [row[0] | int, row[1] | int] -%}
        {%- do links.append(link) -%}
        {%- do label.update({link[0]: link[0], link[1]: link[1]}) -%}
    {%- endfor -%}
    {%- set state = {'changed': true} -%}
    {%- for pass in range(102) if state.changed -%}
        {%- do state.update({'changed': false}) -%}
        {%- for link in links -%}
            {%- set low = [label[link[0]], label[link[1]]] | min -%}
            {%- if label[link[0]] != low or label[link[1]] != low -%}
                {%- do label.update({link[0]: low, link[1]: low}) -%}
                {%- do state.update({'changed': true}) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- if state.changed -%}
        {{ exceptions.raise_compiler_error("connected_components_small: a component of " ~ edges ~ " has more than 100 nodes") }}
    {%- endif -%}
    {%- set values = [] -%}
    {%- for node in label | sort -%}
        {%- do values.append("(" ~ node ~ ", " ~ label[node] ~ ")") -%}
    {%- endfor -%}
    {%- if values -%}
        {%- set rows = "select cast(node as bigint) as node, cast(label as bigint) as label from values "
            ~ values | join(", ") ~ " as solved (node, label)" -%}
    {%- else -%}
        {%- set rows = "select node_a as node, node_b as label from " ~ edges ~ " where 1 = 0" -%}
    {%- endif -%}
    {%- do run_query(cdp.cc_create_table(labels, rows)) -%}
    {{ return(1) }}
{%- endmacro %}
