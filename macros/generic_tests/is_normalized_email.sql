{% test is_normalized_email(model, column_name) %}

with validation_errors as (
    select {{ column_name }} as email
    from {{ model }}
    where
        {{ column_name }} is not null
        and (
            {{ column_name }} <> lower(trim({{ column_name }}))
            or {{ column_name }} = ''
        )
)

select * from validation_errors

{% endtest %}
