{% test unique_combination_of_columns(model, combination_of_columns) %}

{%- if combination_of_columns is not iterable or combination_of_columns is string or combination_of_columns | length == 0 -%}
    {{ exceptions.raise_compiler_error("unique_combination_of_columns on " ~ model ~ ": combination_of_columns must be a non-empty list of column names") }}
{%- endif %}

with validation_errors as (
    select
        {{ combination_of_columns | join(', ') }},
        count(*) as occurrences
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}
    having count(*) > 1
)

select * from validation_errors

{% endtest %}
