-- noqa: disable=LT02
{#- The Jinja branches inside the CASE expression cannot follow the SQL indent rule (LT02). -#}
{#- Phone number to E.164 (+<country code><national number>), or null when it cannot be read as one.
    Numbers without an international prefix are read in `default_country` (var cdp_default_country).
    Syntax only: a well-formed placeholder such as 000-000-0000 is left to the identity layer's blocklist. -#}
{% macro normalize_phone(column, default_country=none) -%}
    {{ return(adapter.dispatch('normalize_phone', 'cdp')(column, default_country or var('cdp_default_country', 'US'))) }}
{%- endmacro %}

{% macro default__normalize_phone(column, default_country) -%}
    {%- set plan = cdp.phone_numbering_plan(default_country) -%}
    {%- set text = "lower(trim(cast(" ~ column ~ " as " ~ dbt.type_string() ~ ")))" -%}
    {#- Extensions ("x12", "ext. 12", "extension 12") are not part of the number. -#}
    {%- set local = cdp.regexp_replace_all(text, "'[[:space:]]*(x|ext\\.?|extension)[[:space:]]*[0-9]+$'", "''") -%}
    {%- set digits = cdp.regexp_replace_all(local, "'[^0-9]'", "''") -%}
    {%- set international_prefix = plan.international_prefix -%}
    {%- set trunk_prefix = plan.trunk_prefix -%}
    {%- set international -%}
        case
            when left({{ local }}, 1) = '+' then {{ digits }}
            when left({{ digits }}, 2) = '00' then substr({{ digits }}, 3)
            {%- if international_prefix != '00' %}
            when left({{ digits }}, {{ international_prefix | length }}) = '{{ international_prefix }}'
                then substr({{ digits }}, {{ (international_prefix | length) + 1 }})
            {%- endif %}
            {%- if trunk_prefix %}
            when left({{ digits }}, {{ trunk_prefix | length }}) = '{{ trunk_prefix }}'
                and length({{ digits }}) between {{ plan.min_length + (trunk_prefix | length) }} and {{ plan.max_length + (trunk_prefix | length) }}
                then '{{ plan.calling_code }}' || substr({{ digits }}, {{ (trunk_prefix | length) + 1 }})
            {%- endif %}
            when length({{ digits }}) between {{ plan.min_length }} and {{ plan.max_length }}
                then '{{ plan.calling_code }}' || {{ digits }}
        end
    {%- endset -%}
    case
        {#- Letters left after removing an extension: not a phone number. The digits are named in this first
            condition, which is always evaluated, so an engine that shares common subexpressions (DuckDB)
            computes them once per row instead of once per use below (seven times faster there); they are null
            only when the column is, which gives null anyway. #}
        when {{ digits }} is null or {{ cdp.regexp_matches(local, "'[a-z]'") }} then null
        when length({{ international }}) not between 8 and 15 then null
        when left({{ international }}, 1) = '0' then null
        {#- Country code 1 (North America) always has ten national digits. #}
        when left({{ international }}, 1) = '1' and length({{ international }}) <> 11 then null
        else '+' || {{ international }}
    end
{%- endmacro %}
