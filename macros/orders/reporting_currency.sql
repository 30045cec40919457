{#- The currency revenue is reported in (vars.cdp_reporting_currency, default USD), upper-cased and checked:
    anything but a three-letter code is a compile error naming the key. -#}
{% macro reporting_currency() -%}
    {{ return(adapter.dispatch('reporting_currency', 'cdp')()) }}
{%- endmacro %}

{% macro default__reporting_currency() -%}
    {%- set code = var('cdp_reporting_currency', 'USD') | string | upper -%}
    {%- if code | length != 3 or not code.isalpha() -%}
        {{ exceptions.raise_compiler_error("dbt_project.yml: vars.cdp_reporting_currency must be an ISO 4217 code such as USD, got '" ~ var('cdp_reporting_currency') ~ "'") }}
    {%- endif -%}
    {{ return(code) }}
{%- endmacro %}
