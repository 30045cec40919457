{#- A web event's name in the project's terms: a name listed in seeds/event_name_mappings.csv (compared
    trimmed and lower-cased) becomes its mapped name; any other name is kept as sent. -#}
{% macro mapped_event_name(column) -%}
    {{ return(adapter.dispatch('mapped_event_name', 'cdp')(column)) }}
{%- endmacro %}

{% macro default__mapped_event_name(column) -%}
    {%- set mappings = cdp.seed_rows('event_name_mappings', ['lower(trim(source_event_name))', 'trim(event_name)'], needed_by='event names') -%}
    {%- if mappings | length == 0 -%}
        {{ column }}
    {%- else -%}
        case lower({{ column }})
            {%- for mapping in mappings %}
            when '{{ mapping[0] | replace("'", "''") }}' then '{{ mapping[1] | replace("'", "''") }}'
            {%- endfor %}
            else {{ column }}
        end
    {%- endif -%}
{%- endmacro %}
