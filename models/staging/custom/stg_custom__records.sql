-- noqa: disable=PRS
-- The lint renders the per-table loop from a stand-in configuration, which is not SQL.
{#- Raw tables added by configuration only (vars.cdp_custom_sources; docs/sources.md, "Adding a table by
    config"): each one normalized by cdp.custom_source_rows, all of them in one relation that
    vars.cdp_identity.sources reads like any other staging model. No rows, same columns, when none is configured.
    These tables are read by name, not through source(): they exist in configuration only. -#}
{%- set tables = cdp.custom_sources() %}
{%- if tables | length > 0 %}
with

{% for table in tables %}
{{ table.name }}_records as (

    {{ cdp.custom_source_rows(table) }}

),

{% endfor %}
unioned as (
    {%- for table in tables %}

    select * from {{ table.name }}_records
    {% if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

)

select * from unioned

{%- else %}

{{ cdp.empty_rows(model.columns) }}
{%- endif %}
