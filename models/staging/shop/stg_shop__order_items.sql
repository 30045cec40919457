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

{%- else %}

-- The orders source family is switched off (vars.cdp_sources): no rows, the same columns.
{{ cdp.empty_rows(model.columns) }}
{%- endif %}
