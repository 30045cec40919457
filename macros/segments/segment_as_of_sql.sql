{#- The moment behavioural conditions count back from: customer_traits.as_of_at, as one scalar subquery. -#}
{% macro segment_as_of_sql(context) -%}
    {{ return("(select max(segment_as_of.as_of_at) from " ~ context.relations.customer_traits ~ " as segment_as_of)") }}
{%- endmacro %}
