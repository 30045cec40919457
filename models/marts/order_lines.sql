{{ config(**cdp.incremental_mart_config(delete='orders_delete')) }}
-- One row per line of an order in the orders mart, with the order's customer, time and completion: what each
-- customer bought, by product and category (segment rules' "bought category"). Lines of orders the orders
-- mart leaves out (forgotten customers) are left out with them.
-- Incremental (docs/customer_360.md, "Incremental builds"): the lines of the orders the orders mart wrote again.
with

order_items as (

    select * from {{ ref('stg_shop__order_items') }}
    where {{ cdp.order_rows_filter('order_id') }}

),

orders as (

    select * from {{ ref('orders') }}
    where {{ cdp.order_rows_filter('order_id') }}

),

order_lines as (

    select
        order_items.order_item_id,
        order_items.order_id,
        orders.customer_id,
        order_items.product_id,
        order_items.product_category,
        cast(order_items.quantity as {{ dbt.type_bigint() }}) as quantity,
        cast(order_items.line_amount as {{ cdp.type_double() }}) as line_amount,
        orders.is_completed,
        orders.ordered_at
    from order_items
    inner join orders on order_items.order_id = orders.order_id

)

select * from order_lines
