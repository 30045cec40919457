{#- Members of every segment declared in vars.cdp_segments (no SQL needed to add one). -#}
{%- set segments = var('cdp_segments', {}) -%}
{%- set nodes = graph.get('nodes') if execute else none -%}
{%- set traits = nodes['model.cdp.customer_traits'].columns.keys() | list if nodes else [] -%}
{#- dbt unit tests render models without the project graph: there, the traits are the ones the definitions
    name (every real compile checks them against customer_traits first). -#}
{%- if execute and not nodes -%}
    {%- for definition in segments.values() if definition is mapping -%}
        {%- for condition in definition.get('conditions') or [] if condition is mapping -%}
            {%- do traits.append(condition.get('trait')) -%}
        {%- endfor -%}
    {%- endfor -%}
{%- endif %}

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
