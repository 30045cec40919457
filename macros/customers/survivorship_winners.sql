{#- The surviving value of one golden-record attribute per customer, by the rule configured for it in
    vars.cdp_survivorship. `candidates` is a relation or CTE with customer_id, source, observed_at and the
    attribute's columns; a candidate whose columns are all null never wins. Returns a derived table (select *
    from it) with one row per customer: customer_id, the attribute's columns and <attribute>_source (the
    source of the winning record).
      most_recent      newest observation first
      source_priority  first listed source first (unlisted sources are ignored), then newest
      most_frequent    value on most records first, then the value seen most recently; its source is the
                       source of that value's newest observation
      first_non_null   oldest observation first (the first value ever given)
    Remaining ties: the listed source order, then the values in ascending order, so every warehouse agrees. -#}
{% macro survivorship_winners(candidates, attribute) -%}
    {{ return(adapter.dispatch('survivorship_winners', 'cdp')(candidates, attribute)) }}
{%- endmacro %}

{% macro default__survivorship_winners(candidates, attribute) -%}
    {%- set config = cdp.survivorship_config()[attribute] -%}
    {%- set columns = config.columns -%}
    {%- set value_order = [] -%}
    {%- for column in columns -%}
        {%- do value_order.append(column ~ ' asc nulls last') -%}
    {%- endfor -%}
    {%- if config.rule == 'most_recent' -%}
        {%- set order = ['observed_at desc', 'source_rank asc'] + value_order -%}
    {%- elif config.rule == 'source_priority' -%}
        {%- set order = ['source_rank asc', 'observed_at desc'] + value_order -%}
    {%- elif config.rule == 'most_frequent' -%}
        {%- set order = ['value_records desc', 'value_last_seen_at desc'] + value_order + ['observed_at desc', 'source_rank asc'] -%}
    {%- else -%}
        {%- set order = ['observed_at asc', 'source_rank asc'] + value_order -%}
    {%- endif -%}
(
    select
        customer_id,
        {%- for column in columns %}
        {{ column }},
        {%- endfor %}
        source as {{ attribute }}_source
    from (
        select
            valued.*,
            row_number() over (partition by customer_id order by {{ order | join(', ') }}, source asc) as survivorship_rank
        from (
            select
                customer_id,
                {%- for column in columns %}
                {{ column }},
                {%- endfor %}
                source,
                observed_at,
                {%- if config.rule == 'most_frequent' %}
                count(*) over (partition by customer_id, {{ columns | join(', ') }}) as value_records,
                max(observed_at) over (partition by customer_id, {{ columns | join(', ') }}) as value_last_seen_at,
                {%- endif %}
                {%- if config.sources %}
                case source
                    {%- for source in config.sources %}
                    when '{{ source }}' then {{ loop.index }}
                    {%- endfor %}
                end as source_rank
                {%- else %}
                1 as source_rank
                {%- endif %}
            from {{ candidates }}
            where ({{ columns | join(' is not null or ') }} is not null)
            {%- if config.sources %}
                and source in ('{{ config.sources | join("', '") }}')
            {%- endif %}
        ) as valued
    ) as ranked
    where survivorship_rank = 1
) as {{ attribute }}_winners
{%- endmacro %}
