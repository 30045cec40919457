{#- SQL listing the component labels that hold more identifiers of a type than its max_per_customer, from
    counts (label, identifier_type, identifiers); a label may have several rows per type (parts to add up). -#}
{% macro identity_limit_violations_counted(counts, limits) -%}
    select counted.label
    from {{ counts }} as counted
    group by counted.label
    having
        {%- for identifier_type, limit in limits.items() %}
        sum(case when counted.identifier_type = '{{ identifier_type }}' then counted.identifiers else 0 end) > {{ limit }} or
        {%- endfor %}
        1 = 0
{%- endmacro %}
