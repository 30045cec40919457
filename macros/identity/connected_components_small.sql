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

{# Spark's recursive CTEs take only UNION ALL, which never ends on a cycle: the round-based loop instead. #}
{% macro spark__connected_components_small(edges, labels) -%}
    {{ return(cdp.connected_components(edges, labels, var('cdp_identity', {}).get('max_rounds', 40))) }}
{%- endmacro %}
