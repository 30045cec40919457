{#- SQL normalizing an identifier value by its type's rules: trim (ids), lower, or email (trim + lower-case,
    and with fold_gmail the dots and +tag of gmail.com / googlemail.com addresses are dropped). -#}
{% macro normalize_identifier(column, rules) -%}
    {{ return(adapter.dispatch('normalize_identifier', 'cdp')(column, rules)) }}
{%- endmacro %}

{% macro default__normalize_identifier(column, rules) -%}
    {%- set cleaned = cdp.clean_string(column) -%}
    {%- if rules.normalize == 'email' -%}
        {%- set email = "lower(" ~ cleaned ~ ")" -%}
        {%- if rules.fold_gmail -%}
            case
                when {{ dbt.split_part(email, "'@'", 2) }} in ('gmail.com', 'googlemail.com')
                    then replace({{ dbt.split_part(dbt.split_part(email, "'@'", 1), "'+'", 1) }}, '.', '') || '@gmail.com'
                else {{ email }}
            end
        {%- else -%}
            {{ email }}
        {%- endif -%}
    {%- elif rules.normalize == 'lower' -%}
        lower({{ cleaned }})
    {%- else -%}
        {{ cleaned }}
    {%- endif -%}
{%- endmacro %}
