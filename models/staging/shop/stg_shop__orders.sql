{%- if cdp.loader_table_enabled('order_completed') %}
-- The orders family is off and vars.cdp_loader_tables.order_completed is on: the orders are the loader's Order
-- Completed events (Segment ecommerce spec), one per order id. The amount is total (with discounts, shipping
-- and tax), else revenue; the customer's email and phone come from the context traits sent with the event.
with

source as (

    select
        {{ cdp.source_columns('segment', 'order_completed') }}
    from {{ source('segment', 'order_completed') }}

),

renamed as (

    select
        cast(coalesce({{ cdp.clean_string('order_id') }}, id) as {{ dbt.type_string() }}) as order_id,
        cast('online' as {{ dbt.type_string() }}) as order_channel,
        {{ cdp.clean_string('user_id') }} as user_id,
        {{ cdp.clean_string('anonymous_id') }} as anonymous_id,
        context_traits_email as email_raw,
        {{ cdp.normalize_email('context_traits_email') }} as email,
        context_traits_phone as phone_raw,
        {{ cdp.normalize_phone('context_traits_phone') }} as phone,
        cast(null as {{ dbt.type_string() }}) as loyalty_card_id,
        cast('web' as {{ dbt.type_string() }}) as store_id,
        cast('completed' as {{ dbt.type_string() }}) as order_status,
        upper({{ cdp.clean_string('currency') }}) as currency_code,
        cast(coalesce(total, revenue) as {{ dbt.type_numeric() }}) as order_amount,
        true as is_completed,
        false as is_in_store,
        cast({{ adapter.quote('timestamp') }} as {{ dbt.type_timestamp() }}) as ordered_at,
        cast(received_at as {{ dbt.type_timestamp() }}) as received_at,
        row_number() over (
            partition by coalesce({{ cdp.clean_string('order_id') }}, id) order by received_at desc, id asc
        ) as delivery_rank

    from source

)

select
    order_id,
    order_channel,
    user_id,
    anonymous_id,
    email_raw,
    email,
    phone_raw,
    phone,
    loyalty_card_id,
    store_id,
    order_status,
    currency_code,
    order_amount,
    is_completed,
    is_in_store,
    ordered_at,
    received_at,
    -- The till's name, date of birth and postal code (offline orders) have no Order Completed property.
    cast(null as {{ dbt.type_string() }}) as first_name,
    cast(null as {{ dbt.type_string() }}) as last_name,
    cast(null as date) as date_of_birth,
    cast(null as {{ dbt.type_string() }}) as postal_code
from renamed
-- A loader may deliver an event twice; the order is the latest delivery.
where delivery_rank = 1

{%- elif cdp.source_family_enabled('orders') %}
with

source as (

    select * from {{ source('shop', 'orders') }}

),

renamed as (

    select
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        lower({{ cdp.clean_string('channel') }}) as order_channel,
        {{ cdp.clean_string('user_id') }} as user_id,
        cast(null as {{ dbt.type_string() }}) as anonymous_id,
        email as email_raw,
        {{ cdp.normalize_email('email') }} as email,
        phone as phone_raw,
        {{ cdp.normalize_phone('phone') }} as phone,
        upper({{ cdp.clean_string('loyalty_card_id') }}) as loyalty_card_id,
        {{ cdp.clean_string('store_id') }} as store_id,
        lower({{ cdp.clean_string('status') }}) as order_status,
        upper({{ cdp.clean_string('currency') }}) as currency_code,
        cast(total_amount as {{ dbt.type_numeric() }}) as order_amount,
        lower(status) = 'completed' as is_completed,
        lower(channel) = 'pos' as is_in_store,
        cast(ordered_at as {{ dbt.type_timestamp() }}) as ordered_at,
        cast(received_at as {{ dbt.type_timestamp() }}) as received_at,
        {{ cdp.clean_string('first_name') }} as first_name,
        {{ cdp.clean_string('last_name') }} as last_name,
        cast({{ cdp.clean_string('date_of_birth') }} as date) as date_of_birth,
        {{ cdp.clean_string('postal_code') }} as postal_code

    from source

)

select * from renamed

{%- else %}

-- The orders source family is switched off (vars.cdp_sources): no rows, the same columns.
{{ cdp.empty_rows(model.columns) }}
{%- endif %}
