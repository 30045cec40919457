{#- The customers whose as-of-dependent traits (int_customer_activity_traits) a moving as-of date may change,
    read by that model's incremental builds (docs/customer_360.md, "Incremental builds"). With the as-of date P
    the previous build applied and this build's A (low the earlier, high the later): the customers with an order
    in (low, high] (counted now or no longer), an email event or a page view in (low, high] or in
    (low - d, high - d] for each of its trait windows of d days (entering or leaving the window;
    cdp.activity_trait_windows). Every customer when only one of the two dates exists; none when it did not move.
    Empty when the identity layer does not run incrementally (the traits are then computed in full). -#}
{%- set applies = '1 = 1' if cdp.identity_build_mode() == 'incremental' else '1 = 0' %}
{%- set windows = cdp.activity_trait_windows() %}
{%- set moved_sources = [
    ('stg_shop__orders', ref('int_orders_converted'), 'order_id', 'ordered_at', []),
    ('stg_esp__email_events', ref('stg_esp__email_events'), 'email_event_id', 'occurred_at', windows.email_events),
    ('stg_segment__pages', ref('stg_segment__pages'), 'page_id', 'viewed_at', windows.pages),
] %}

with

previous_as_of as (

    select max(watermark) as as_of_at from {{ cdp.identity_build_log() }}
    where
        kind = 'as of' and name = 'int_customer_activity_traits'
        and invocation_id = '{{ cdp.previous_identity_build() }}'

),

current_as_of as (

    {{ cdp.traits_as_of() }}

),

moved as (

    select
        case
            when previous_as_of.as_of_at < current_as_of.as_of_at then previous_as_of.as_of_at else current_as_of.as_of_at
        end as low_at,
        case
            when previous_as_of.as_of_at < current_as_of.as_of_at then current_as_of.as_of_at else previous_as_of.as_of_at
        end as high_at,
        (previous_as_of.as_of_at is null) <> (current_as_of.as_of_at is null) as is_everyone
    from previous_as_of
    cross join current_as_of
    where {{ applies }}

),

moved_records as (

    {% for source_table, relation, id_column, at_column, days in moved_sources %}
        select
            '{{ source_table }}' as source_table,
            source_rows.{{ id_column }} as record_id
        from {{ relation }} as source_rows
        cross join moved
        where {{ cdp.moved_by_as_of('source_rows.' ~ at_column, days) }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

moved_customers as (

    select records.customer_id
    from moved_records
    inner join {{ ref('identity_records') }} as records
        on moved_records.source_table = records.source_table and moved_records.record_id = records.record_id
    union
    select customers.customer_id
    from {{ ref('customers') }} as customers
    cross join moved
    where moved.is_everyone

)

select customer_id from moved_customers
