{#- SQL listing the component labels that hold more identifiers of a type than its max_per_customer. -#}
{% macro identity_limit_violations(labels, node_types, limits) -%}
    select label.label
    from {{ labels }} as label
    inner join {{ node_types }} as node_type on node_type.node = label.node
    group by label.label
    having
        {%- for identifier_type, limit in limits.items() %}
        count(distinct case when node_type.identifier_type = '{{ identifier_type }}' then label.node end) > {{ limit }} or
        {%- endfor %}
        1 = 0
{%- endmacro %}
