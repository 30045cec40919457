{#- Members of every declared segment: vars.cdp_segments and the saved segments of models/segments/declared/
    (no SQL needed to add one; docs/audiences.md). -#}
{%- set context = cdp.segment_context() %}

with

members as (

    {%- for name, definition in context.segments.items() %}
    select
        customer_id,
        '{{ name }}' as segment_name
    from (
        {{ cdp.segment_members_sql(cdp.segment_rule_sql(name, definition, context), context) if execute else 'select 1 as customer_id' }}
    ) as segment_{{ loop.index }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
    {%- if context.segments | length == 0 %}
    select
        customer_id,
        '' as segment_name
    from {{ context.relations.customer_traits }}
    where 1 = 0
    {%- endif %}

)

select * from members
