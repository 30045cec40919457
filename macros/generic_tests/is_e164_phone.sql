{% test is_e164_phone(model, column_name) %}

with validation_errors as (
    select {{ column_name }} as phone
    from {{ model }}
    where
        {{ column_name }} is not null
        and not {{ cdp.regexp_matches(column_name, "'^[+][1-9][0-9]{6,14}$'") }}
)

select * from validation_errors

{% endtest %}
