{#- SQL for a purchase condition on the order_lines mart: {bought_category: <category>, in_last_days: D
    (optional; counted back from customer_traits.as_of_at)}: a completed order with a line of that product
    category (categories are lower case). -#}
{% macro segment_bought_sql(condition, context, key) -%}
    {%- for extra in condition if extra not in ['bought_category', 'in_last_days'] -%}
        {{ exceptions.raise_compiler_error(key ~ "." ~ extra ~ ": not a key of a purchase condition (bought_category, in_last_days)") }}
    {%- endfor -%}
    {%- if condition.bought_category is not string or condition.bought_category | trim | length == 0 -%}
        {{ exceptions.raise_compiler_error(key ~ ".bought_category: the product category must be non-empty text") }}
    {%- endif -%}
    {%- set days = condition.get('in_last_days') -%}
    {%- if days is not none and not segment_is_count(days) -%}
        {{ exceptions.raise_compiler_error(key ~ ".in_last_days: " ~ days ~ " is not a whole number of 1 or more") }}
    {%- endif -%}
    {%- set as_of = segment_as_of_sql(context) -%}
    {%- set sql -%}
        customer_id in (select segment_lines.customer_id from {{ context.relations.order_lines }} as segment_lines where segment_lines.is_completed and segment_lines.product_category = {{ segment_literal(condition.bought_category | trim | lower, 'text', key ~ '.bought_category') }}
        {%- if days is not none %} and segment_lines.ordered_at > {{ segment_days_before(as_of, days) }} and segment_lines.ordered_at <= {{ as_of }}{% endif %})
    {%- endset -%}
    {{ return(sql | trim) }}
{%- endmacro %}
