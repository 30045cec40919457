{#- The customers meeting a segment rule's WHERE clause (segment_rule_sql), from customer_traits, joined to the
    golden record (customers, one row per customer_id) only when the clause names one of its columns
    (context.golden_fields; without that list, always): the join never changes the rows, it only costs time.
    `columns` is the select list. -#}
{% macro segment_members_sql(where_sql, context, columns='customer_id') -%}
    {%- set golden = context.get('golden_fields') -%}
    {%- set needs_join = golden is none or (golden | length > 0 and modules.re.search('\\b(' ~ golden | join('|') ~ ')\\b', where_sql)) -%}
    {%- set sql -%}
select {{ columns }} from {{ context.relations.customer_traits }} as segment_traits
{%- if needs_join %} left join {{ context.relations.customers }} as segment_customers using (customer_id){% endif %} where {{ where_sql }}
    {%- endset -%}
    {{ return(sql | trim) }}
{%- endmacro %}
