-- depends_on: {{ ref('stg_shop__orders') }} {{ ref('int_identity_changed_records') }} {{ ref('identity_records') }}
{#- The orders an incremental build writes again in int_orders_converted, orders and order_lines
    (docs/customer_360.md, "Incremental builds"), computed once: orders received since the previous build's
    high-water mark (new and updated, with their lines), orders whose record the identity layer changed (deleted
    ones included), and every order of a customer touched for an identity reason. Empty when the identity layer
    does not run incrementally (the order models then recompute every row). -#}
{%- set applies = '1 = 1' if cdp.identity_build_mode() == 'incremental' else '1 = 0' %}

with

received as (

    select order_id from {{ ref('stg_shop__orders') }}
    where {{ cdp.changed_since_previous_build('stg_shop__orders', 'received_at') }}

),

changed_records as (

    select record_id as order_id from {{ ref('int_identity_changed_records') }}
    where source_table = 'stg_shop__orders'

),

of_touched_customers as (

    select record_id as order_id from {{ ref('identity_records') }}
    where source_table = 'stg_shop__orders' and customer_id in ({{ cdp.customers_touched('identity') }})

),

touched as (

    select order_id from received
    union
    select order_id from changed_records
    union
    select order_id from of_touched_customers

)

select order_id from touched
where {{ applies }}
