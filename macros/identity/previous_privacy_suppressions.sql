{#- The privacy_suppressions table as the previous builds left it, or none before the first build. Read (not
    ref'd) by the identity inputs, which run before privacy_suppressions itself: identifiers suppressed by an
    earlier build take no part in identity resolution. It is kept across --full-refresh (full_refresh: false). -#}
{% macro previous_privacy_suppressions() -%}
    {{ return(adapter.dispatch('previous_privacy_suppressions', 'cdp')()) }}
{%- endmacro %}

{% macro default__previous_privacy_suppressions() -%}
    {%- if not execute -%}{{ return(none) }}{%- endif -%}
    {{ return(adapter.get_relation(database=(target.database or none), schema=generate_schema_name('privacy', model), identifier='privacy_suppressions')) }}
{%- endmacro %}
