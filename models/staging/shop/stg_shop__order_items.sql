{%- if cdp.source_family_enabled('orders') %}
with

source as (

    select * from {{ source('shop', 'order_items') }}

),

renamed as (

    select
        cast(order_item_id as {{ dbt.type_string() }}) as order_item_id,
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        {{ cdp.clean_string('product_id') }} as product_id,
        lower({{ cdp.clean_string('product_category') }}) as product_category,
        cast(quantity as {{ dbt.type_int() }}) as quantity,
        cast(unit_price as {{ dbt.type_numeric() }}) as unit_price,
        cast(quantity * unit_price as {{ dbt.type_numeric() }}) as line_amount

    from source

)

select * from renamed

{%- elif cdp.loader_table_enabled('order_completed') %}
-- The orders family is off and vars.cdp_loader_tables.order_completed is on: the order lines are the products of
-- the loader's Order Completed events (Segment and RudderStack ecommerce spec: a JSON array of product_id, sku,
-- name, category, price, quantity), from each order's latest delivery as in stg_shop__orders. A product
-- without product_id is named by its sku; a missing quantity is 1.
with

source as (

    select
        {{ cdp.source_columns('segment', 'order_completed') }}
    from {{ source('segment', 'order_completed') }}

),

deliveries as (

    select
        cast(coalesce({{ cdp.clean_string('order_id') }}, id) as {{ dbt.type_string() }}) as order_id,
        products,
        row_number() over (
            partition by coalesce({{ cdp.clean_string('order_id') }}, id) order by received_at desc, id asc
        ) as delivery_rank
    from source

),

products as (

    select
        deliveries.order_id,
        product.position,
        {{ cdp.json_field_text('product.value', 'product_id') }} as product_id,
        {{ cdp.json_field_text('product.value', 'sku') }} as sku,
        {{ cdp.json_field_text('product.value', 'category') }} as category,
        {{ cdp.json_field_text('product.value', 'price') }} as price,
        {{ cdp.json_field_text('product.value', 'quantity') }} as quantity
    from deliveries
    cross join {{ cdp.json_array_elements('deliveries.products', 'product') }}
    where deliveries.delivery_rank = 1

),

renamed as (

    select
        cast({{ dbt.concat(['order_id', "':'", 'cast(position as ' ~ dbt.type_string() ~ ')']) }} as {{ dbt.type_string() }}) as order_item_id,
        order_id,
        coalesce({{ cdp.clean_string('product_id') }}, {{ cdp.clean_string('sku') }}) as product_id,
        lower({{ cdp.clean_string('category') }}) as product_category,
        cast(coalesce(cast(quantity as {{ cdp.type_double() }}), 1) as {{ dbt.type_int() }}) as quantity,
        cast(cast(price as {{ cdp.type_double() }}) as {{ dbt.type_numeric() }}) as unit_price,
        cast(
            coalesce(cast(quantity as {{ cdp.type_double() }}), 1) * cast(price as {{ cdp.type_double() }})
            as {{ dbt.type_numeric() }}
        ) as line_amount

    from products

)

select * from renamed

{%- else %}

-- The orders source family is switched off (vars.cdp_sources): no rows, the same columns.
{{ cdp.empty_rows(model.columns) }}
{%- endif %}
