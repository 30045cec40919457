{#- Trim and lowercase an email address; blank becomes null. Junk values are the identity layer's business. -#}
{% macro normalize_email(column) -%}
    {{ return(adapter.dispatch('normalize_email', 'cdp')(column)) }}
{%- endmacro %}

{% macro default__normalize_email(column) -%}
    lower({{ cdp.clean_string(column) }})
{%- endmacro %}
