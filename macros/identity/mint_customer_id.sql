{#- A new customer id derived from an identifier key (deterministic, so both warehouses mint the same ids). -#}
{% macro mint_customer_id(key_expression) -%}
    {{ return(adapter.dispatch('mint_customer_id', 'cdp')(key_expression)) }}
{%- endmacro %}

{% macro default__mint_customer_id(key_expression) -%}
    {{ dbt.concat(["'cus_'", "substr(" ~ dbt.hash(key_expression) ~ ", 1, 20)"]) }}
{%- endmacro %}
