{#- Whether a source family is switched on (vars.cdp_sources in dbt_project.yml; a family left out is on).
    An unknown family or a value that is not true/false is a compile error naming the key. -#}
{% macro source_family_enabled(family) -%}
    {{ return(adapter.dispatch('source_family_enabled', 'cdp')(family)) }}
{%- endmacro %}

{% macro default__source_family_enabled(family) -%}
    {%- set families = ['web_events', 'app', 'crm', 'orders', 'email', 'dmp', 'support', 'consent', 'privacy'] -%}
    {%- set where = "dbt_project.yml: vars.cdp_sources" -%}
    {%- set switches = var('cdp_sources', {}) -%}
    {%- if switches is not mapping -%}
        {{ exceptions.raise_compiler_error(where ~ " must map source families to true or false, got " ~ switches) }}
    {%- endif -%}
    {%- for name, enabled in switches.items() -%}
        {%- if name not in families -%}
            {{ exceptions.raise_compiler_error(where ~ "." ~ name ~ " is not a source family; use one of " ~ families | join(', ')) }}
        {%- endif -%}
        {%- if enabled is not sameas true and enabled is not sameas false -%}
            {{ exceptions.raise_compiler_error(where ~ "." ~ name ~ " must be true or false, got " ~ enabled) }}
        {%- endif -%}
    {%- endfor -%}
    {%- if family not in families -%}
        {{ exceptions.raise_compiler_error("source family '" ~ family ~ "' is not one of " ~ families | join(', ')) }}
    {%- endif -%}
    {{ return(switches.get(family, true)) }}
{%- endmacro %}
