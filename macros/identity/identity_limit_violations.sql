{#- SQL listing the component labels that hold more identifiers of a type than its max_per_customer. -#}
{% macro identity_limit_violations(labels, node_types, limits) -%}
    {%- set counts -%}
        (
            select
                label.label,
                node_type.identifier_type,
                count(*) as identifiers
            from {{ labels }} as label
            inner join {{ node_types }} as node_type on node_type.node = label.node
            group by label.label, node_type.identifier_type
        )
    {%- endset -%}
    {{ return(cdp.identity_limit_violations_counted(counts, limits)) }}
{%- endmacro %}
