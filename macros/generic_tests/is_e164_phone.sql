{% test is_e164_phone(model, column_name) %}

{#- A null phone passes. One condition on the column, not "is not null and not matching": DuckDB pushes that
    pair into a staging view as a filter that computes the column's normalization twice, with no shared
    subexpressions, where this form reads the column as the view computes it. -#}
with validation_errors as (
    select {{ column_name }} as phone
    from {{ model }}
    where not coalesce({{ cdp.regexp_matches(column_name, "'^[+][1-9][0-9]{6,14}$'") }}, true)
)

select * from validation_errors

{% endtest %}
