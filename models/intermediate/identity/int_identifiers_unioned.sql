{{ config(materialized='view') }}
{#- One row per (record, identifier) from every source listed in vars.cdp_identity.sources (a view: builds
    read the changed rows only, through int_identity_record_changes). -#}
{%- set identity = cdp.identity_config() -%}
{%- if execute -%}{%- do cdp.check_identity_sources(identity) -%}{%- endif %}

with

{% for source in identity.sources %}
{{ source.model }}_identifiers as (
{{ cdp.identity_source_rows(source) }}

),

{% endfor %}
unioned as (
    {%- for source in identity.sources %}

    select * from {{ source.model }}_identifiers
    {% if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

)

select * from unioned
