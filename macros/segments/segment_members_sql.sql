{#- The customers meeting a segment rule's WHERE clause (segment_rule_sql): customer_traits joined to the
    golden record, so conditions may name columns of either; `columns` is the select list. -#}
{% macro segment_members_sql(where_sql, relations, columns='customer_id') -%}
    {%- set sql -%}
select {{ columns }} from {{ relations.customer_traits }} as segment_traits left join {{ relations.customers }} as segment_customers using (customer_id) where {{ where_sql }}
    {%- endset -%}
    {{ return(sql | trim) }}
{%- endmacro %}
