{%- set window_days = 7 -%}
-- Put something in a cart (web 'Product Added' or 'Checkout Started', app 'add_to_cart') less than window_days
-- (7) days before as_of_at and completed no order at or after the latest such event. Consented, unsuppressed
-- customers only.
with

traits as (

    select * from {{ ref('customer_traits') }}

),

suppressed as (

    select * from {{ ref('suppressed_customers') }}

),

records as (

    select * from {{ ref('identity_records') }}

),

web_cart_events as (

    select
        records.customer_id,
        tracks.tracked_at as occurred_at
    from {{ ref('stg_segment__tracks') }} as tracks
    inner join records on records.source_table = 'stg_segment__tracks' and tracks.track_id = records.record_id
    where tracks.event_name in ('Product Added', 'Checkout Started')

),

app_cart_events as (

    select
        records.customer_id,
        app_events.occurred_at
    from {{ ref('stg_app__events') }} as app_events
    inner join records on records.source_table = 'stg_app__events' and app_events.app_event_id = records.record_id
    where app_events.event_name = 'add_to_cart'

),

cart_events as (

    select * from web_cart_events
    union all
    select * from app_cart_events

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
