{#- Members of every segment declared in vars.cdp_segments (no SQL needed to add one). -#}
{%- set segments = var('cdp_segments', {}) -%}
{%- set traits = graph.nodes['model.cdp.customer_traits'].columns.keys() | list if execute else [] -%}

with

traits as (

    select * from {{ ref('customer_traits') }}

),

members as (

    {%- for name, definition in segments.items() %}
    select
        customer_id,
        '{{ name }}' as segment_name
    from traits
    where {{ cdp.segment_condition(name, definition, traits) if execute else 'true' }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
    {%- if segments | length == 0 %}
    select
        customer_id,
        '' as segment_name
    from traits
    where 1 = 0
    {%- endif %}

)

select * from members
