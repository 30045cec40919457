{#- Whether one of the loader tables read only on request is switched on (vars.cdp_loader_tables in
    dbt_project.yml; off unless set): `users` (Segment's and RudderStack's latest traits per user id, one more
    identity source) and `order_completed` (the per-event table of Order Completed, read as the orders when no
    commerce source exists). Orders come from one place: order_completed with the orders family still on is a
    compile error, as is an unknown key or a value other than true/false. -#}
{% macro loader_table_enabled(table) -%}
    {{ return(adapter.dispatch('loader_table_enabled', 'cdp')(table)) }}
{%- endmacro %}

{% macro default__loader_table_enabled(table) -%}
    {%- set tables = ['users', 'order_completed'] -%}
    {%- set where = "dbt_project.yml: vars.cdp_loader_tables" -%}
    {%- set switches = var('cdp_loader_tables', {}) -%}
    {%- if switches is not mapping -%}
        {{ exceptions.raise_compiler_error(where ~ " must map loader tables to true or false, got " ~ switches) }}
    {%- endif -%}
    {%- for name, enabled in switches.items() -%}
        {%- if name not in tables -%}
            {{ exceptions.raise_compiler_error(where ~ "." ~ name ~ " is not a loader table read on request; use one of " ~ tables | join(', ')) }}
        {%- endif -%}
        {%- if enabled is not sameas true and enabled is not sameas false -%}
            {{ exceptions.raise_compiler_error(where ~ "." ~ name ~ " must be true or false, got " ~ enabled) }}
        {%- endif -%}
    {%- endfor -%}
    {%- if table not in tables -%}
        {{ exceptions.raise_compiler_error("loader table '" ~ table ~ "' is not one of " ~ tables | join(', ')) }}
    {%- endif -%}
    {%- if switches.get('order_completed', false) and cdp.source_family_enabled('orders') -%}
        {{ exceptions.raise_compiler_error(where ~ ".order_completed reads the orders from the loader's order_completed table, but the orders family is on too: set vars.cdp_sources.orders to false so orders come from one place") }}
    {%- endif -%}
    {{ return(switches.get(table, false)) }}
{%- endmacro %}
