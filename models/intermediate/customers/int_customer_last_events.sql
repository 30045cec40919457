{{ config(**cdp.incremental_mart_config()) }}
-- The time of each customer's latest event (events mart), for customer_360's activity flag. Customer-level
-- incremental (docs/customer_360.md, "Incremental builds"): a customer's events change only with records of
-- theirs loaded, changed or moved, which touches the customer.
with

events as (

    select * from {{ ref('events') }}
    where customer_id is not null and {{ cdp.customer_rows_filter('customer_id') }}

),

last_events as (

    select
        customer_id,
        max(occurred_at) as last_event_at
    from events
    group by customer_id

)

select * from last_events
