{#- A timestamp expression minus a whole number of days; the only date arithmetic of segment rules. -#}
{% macro segment_days_before(expression, days) -%}
    {{ return(adapter.dispatch('segment_days_before', 'cdp')(expression, days)) }}
{%- endmacro %}

{% macro default__segment_days_before(expression, days) -%}
    {{ return(expression ~ " - interval '" ~ (days | int) ~ " days'") }}
{%- endmacro %}
