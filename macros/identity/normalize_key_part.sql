{#- SQL normalizing one part of a composite identifier (a column of a source) by the part's rule: trim, lower,
    compact (lower-case without white space or punctuation: names, streets, postal codes), digits (digits only)
    or date (a date or an ISO date string, written YYYY-MM-DD). An empty result is null. -#}
{% macro normalize_key_part(column, rule) -%}
    {{ return(adapter.dispatch('normalize_key_part', 'cdp')(column, rule)) }}
{%- endmacro %}

{% macro default__normalize_key_part(column, rule) -%}
    {%- set cleaned = cdp.clean_string(column) -%}
    {%- if rule == 'lower' -%}
        lower({{ cleaned }})
    {%- elif rule == 'compact' -%}
        nullif({{ cdp.regexp_replace_all('lower(' ~ cleaned ~ ')', "'[[:space:][:punct:]]'", "''") }}, '')
    {%- elif rule == 'digits' -%}
        nullif({{ cdp.regexp_replace_all(cleaned, "'[^0-9]'", "''") }}, '')
    {%- elif rule == 'date' -%}
        cast(cast({{ cleaned }} as date) as {{ dbt.type_string() }})
    {%- else -%}
        {{ cleaned }}
    {%- endif -%}
{%- endmacro %}

{#- PostgreSQL writes a date as text in the session's DateStyle: to_char fixes YYYY-MM-DD. -#}
{% macro postgres__normalize_key_part(column, rule) -%}
    {%- if rule == 'date' -%}
        to_char(cast({{ cdp.clean_string(column) }} as date), 'YYYY-MM-DD')
    {%- else -%}
        {{ cdp.default__normalize_key_part(column, rule) }}
    {%- endif -%}
{%- endmacro %}
