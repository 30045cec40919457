{#- Dialling facts of one country, used to read national phone numbers: calling code, trunk prefix
    (dialled before a national number inside the country), international prefix and national number length. -#}
{% macro phone_numbering_plan(country) -%}
    {%- set plans = {
        'US': {'calling_code': '1', 'trunk_prefix': '1', 'international_prefix': '011', 'min_length': 10, 'max_length': 10},
        'CA': {'calling_code': '1', 'trunk_prefix': '1', 'international_prefix': '011', 'min_length': 10, 'max_length': 10},
        'GB': {'calling_code': '44', 'trunk_prefix': '0', 'international_prefix': '00', 'min_length': 9, 'max_length': 10},
        'DE': {'calling_code': '49', 'trunk_prefix': '0', 'international_prefix': '00', 'min_length': 6, 'max_length': 13},
        'FR': {'calling_code': '33', 'trunk_prefix': '0', 'international_prefix': '00', 'min_length': 9, 'max_length': 9},
        'ES': {'calling_code': '34', 'trunk_prefix': '', 'international_prefix': '00', 'min_length': 9, 'max_length': 9},
        'IT': {'calling_code': '39', 'trunk_prefix': '', 'international_prefix': '00', 'min_length': 6, 'max_length': 11},
        'NL': {'calling_code': '31', 'trunk_prefix': '0', 'international_prefix': '00', 'min_length': 9, 'max_length': 9},
        'AU': {'calling_code': '61', 'trunk_prefix': '0', 'international_prefix': '0011', 'min_length': 9, 'max_length': 9},
        'IN': {'calling_code': '91', 'trunk_prefix': '0', 'international_prefix': '00', 'min_length': 10, 'max_length': 10},
        'BR': {'calling_code': '55', 'trunk_prefix': '0', 'international_prefix': '00', 'min_length': 10, 'max_length': 11},
        'JP': {'calling_code': '81', 'trunk_prefix': '0', 'international_prefix': '010', 'min_length': 9, 'max_length': 10},
    } -%}
    {%- set key = (country or '') | upper -%}
    {%- if key not in plans -%}
        {{ exceptions.raise_compiler_error("dbt_project.yml: vars.cdp_default_country '" ~ country ~ "' has no numbering plan; use one of " ~ (plans.keys() | list | sort | join(', ')) ~ " or add it in macros/normalization/phone_numbering_plan.sql") }}
    {%- endif -%}
    {{ return(plans[key]) }}
{%- endmacro %}
