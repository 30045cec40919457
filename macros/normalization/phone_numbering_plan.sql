{#- Dialling facts of one country, used to read national phone numbers: calling code, trunk prefix
    (dialled before a national number inside the country), international prefix and national number length.
    Read at compile time from the seed country_phone_plans (seeds/country_phone_plans.csv). -#}
{% macro phone_numbering_plan(country) -%}
    {{ return(adapter.dispatch('phone_numbering_plan', 'cdp')(country)) }}
{%- endmacro %}

{% macro default__phone_numbering_plan(country) -%}
    {%- set key = (country or '') | upper -%}
    {%- set where = "dbt_project.yml: vars.cdp_default_country '" ~ country ~ "'" -%}
    {%- if key | length != 2 or not key.isalpha() -%}
        {{ exceptions.raise_compiler_error(where ~ " is not an ISO 3166 alpha-2 country code") }}
    {%- endif -%}
    {%- set plans = cdp.seed_rows('country_phone_plans', ['upper(country_code)', 'calling_code', 'trunk_prefix', 'international_prefix', 'min_length', 'max_length'], needed_by=where) -%}
    {%- if not execute -%}
        {{ return({'calling_code': '1', 'trunk_prefix': '1', 'international_prefix': '011', 'min_length': 10, 'max_length': 10}) }}
    {%- endif -%}
    {%- set found = [] -%}
    {%- set known = [] -%}
    {%- for plan in plans -%}
        {%- do known.append(plan[0]) -%}
        {%- if plan[0] == key -%}{%- do found.append(plan) -%}{%- endif -%}
    {%- endfor -%}
    {%- if found | length != 1 -%}
        {{ exceptions.raise_compiler_error(where ~ " has " ~ ("no" if found | length == 0 else "more than one") ~ " numbering plan in seeds/country_phone_plans.csv; use one of " ~ known | join(', ') ~ " or add a row there") }}
    {%- endif -%}
    {%- set row = found[0] -%}
    {{ return({
        'calling_code': row[1] | string,
        'trunk_prefix': (row[2] or '') | string,
        'international_prefix': row[3] | string,
        'min_length': row[4] | int,
        'max_length': row[5] | int,
    }) }}
{%- endmacro %}
