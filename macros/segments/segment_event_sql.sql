{#- SQL for a behavioural condition on the events mart: {event: <event_name>, at_least: N (default 1),
    in_last_days: D (optional; counted back from customer_traits.as_of_at)}. -#}
{% macro segment_event_sql(condition, context, key) -%}
    {%- for extra in condition if extra not in ['event', 'at_least', 'in_last_days'] -%}
        {{ exceptions.raise_compiler_error(key ~ "." ~ extra ~ ": not a key of an event condition (event, at_least, in_last_days)") }}
    {%- endfor -%}
    {%- if condition.event is not string or condition.event | length == 0 -%}
        {{ exceptions.raise_compiler_error(key ~ ".event: the event name must be text") }}
    {%- endif -%}
    {%- for setting in ['at_least', 'in_last_days'] if setting in condition -%}
        {%- set number = condition[setting] -%}
        {%- if not segment_is_count(number) -%}
            {{ exceptions.raise_compiler_error(key ~ "." ~ setting ~ ": " ~ number ~ " is not a whole number of 1 or more") }}
        {%- endif -%}
    {%- endfor -%}
    {%- set as_of = segment_as_of_sql(context) -%}
    {%- set sql -%}
        customer_id in (select segment_events.customer_id from {{ context.relations.events }} as segment_events where segment_events.event_name = {{ segment_literal(condition.event, 'text', key ~ '.event') }}
        {%- if 'in_last_days' in condition %} and segment_events.occurred_at > {{ segment_days_before(as_of, condition.in_last_days) }} and segment_events.occurred_at <= {{ as_of }}{% endif %} group by segment_events.customer_id having count(*) >= {{ condition.get('at_least', 1) | int }})
    {%- endset -%}
    {{ return(sql | trim) }}
{%- endmacro %}
