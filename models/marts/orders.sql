{{ config(**cdp.incremental_mart_config(delete='orders_delete')) }}
-- One row per online or in-store (POS) order with the customer who placed it. Orders of forgotten
-- (suppressed) customers are left out; an order that carries no identifier at all (an anonymous purchase at
-- the till) is kept with a null customer_id so revenue stays complete.
-- Incremental (docs/customer_360.md, "Incremental builds"): a build writes again the changed orders and the
-- orders of the customers it touched for an identity reason.
with

orders as (

    select * from {{ ref('int_orders_converted') }}
    where {{ cdp.order_rows_filter('order_id') }}

),

records as (

    select * from {{ ref('identity_records') }}
    where source_table = 'stg_shop__orders'

),

customers as (

    select customer_id from {{ ref('customers') }}

),

order_lines as (

    select
        order_id,
        count(*) as order_lines,
        sum(quantity) as units
    from {{ ref('stg_shop__order_items') }}
    where {{ cdp.order_rows_filter('order_id') }}
    group by order_id

),

joined as (

    select
        orders.order_id,
        records.customer_id,
        orders.order_channel,
        orders.order_status,
        orders.is_completed,
        orders.is_in_store,
        orders.store_id,
        orders.currency_code,
        cast(orders.order_amount as {{ cdp.type_double() }}) as order_amount,
        orders.reporting_currency_code,
        cast(orders.reporting_order_amount as {{ cdp.type_double() }}) as reporting_order_amount,
        cast(coalesce(order_lines.order_lines, 0) as {{ dbt.type_bigint() }}) as order_lines,
        cast(coalesce(order_lines.units, 0) as {{ dbt.type_bigint() }}) as units,
        orders.ordered_at,
        orders.received_at
    from orders
    left join records on orders.order_id = records.record_id
    left join customers on records.customer_id = customers.customer_id
    left join order_lines on orders.order_id = order_lines.order_id
    where records.customer_id is null or customers.customer_id is not null

)

select * from joined
