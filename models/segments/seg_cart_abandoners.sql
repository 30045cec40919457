{%- set window_days = 7 -%}
-- Put something in a cart (web 'Product Added' or 'Checkout Started', app 'add_to_cart') less than window_days
-- (7) days before as_of_at and completed no order at or after the latest such event. Consented, unsuppressed
-- customers only. Reads the cart events of the window from the events mart.
with

traits as (

    select * from {{ ref('customer_traits') }}

),

suppressed as (

    select * from {{ ref('suppressed_customers') }}

),

as_of as (

    select max(as_of_at) as as_of_at from traits

),

cart_events as (

    -- Only the window's events: a member's latest cart event lies in it, so the latest before it never counts.
    -- The events mart (incremental) already carries each event's customer.
    select
        events.customer_id,
        events.occurred_at
    from {{ ref('events') }} as events
    where
        (
            (events.event_type = 'track' and events.event_name in ('Product Added', 'Checkout Started'))
            or (events.event_type = 'app' and events.event_name = 'add_to_cart')
        )
        and events.occurred_at > (select {{ dbt.dateadd('day', -window_days, 'as_of.as_of_at') }} from as_of)
        and events.occurred_at <= (select as_of.as_of_at from as_of)

),

last_cart_activity as (

    select
        cart_events.customer_id,
        max(cart_events.occurred_at) as last_cart_activity_at
    from cart_events
    inner join traits on cart_events.customer_id = traits.customer_id
    where cart_events.occurred_at <= traits.as_of_at
    group by cart_events.customer_id

),

members as (

    select
        traits.customer_id,
        traits.revenue,
        traits.orders,
        traits.days_since_last_order,
        last_cart_activity.last_cart_activity_at
    from traits
    inner join last_cart_activity on traits.customer_id = last_cart_activity.customer_id
    left join suppressed on traits.customer_id = suppressed.customer_id
    where
        suppressed.customer_id is null
        and traits.has_marketing_consent
        and last_cart_activity.last_cart_activity_at > {{ dbt.dateadd('day', -window_days, 'traits.as_of_at') }}
        and (traits.last_order_at is null or traits.last_order_at < last_cart_activity.last_cart_activity_at)

)

select * from members
