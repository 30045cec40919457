{%- if cdp.source_family_enabled('orders') %}
with

source as (

    select * from {{ source('shop', 'orders') }}

),

renamed as (

    select
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        lower({{ cdp.clean_string('channel') }}) as order_channel,
        {{ cdp.clean_string('user_id') }} as user_id,
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
