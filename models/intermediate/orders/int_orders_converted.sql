{{ config(**cdp.incremental_mart_config(delete='orders_delete')) }}
-- Every order with its amount in the reporting currency (vars.cdp_reporting_currency), converted at the rates of
-- seeds/currency_rates.csv in force on the order date: each currency's latest rate dated on or before it, through
-- US dollars. The original amount and currency stay. No rate on or before the order date: a null amount, which
-- the not_null test on reporting_order_amount reports (add the missing rates to the seed).
-- Incremental (docs/customer_360.md, "Incremental builds"): a build writes again the orders of int_orders_touched.
{%- set reporting_currency = cdp.reporting_currency() %}

with

orders as (

    select * from {{ ref('stg_shop__orders') }}
    where {{ cdp.order_rows_filter('order_id') }}

),

rates as (

    select
        upper(currency_code) as currency_code,
        cast(rate_date as date) as valid_from,
        lead(cast(rate_date as date)) over (partition by upper(currency_code) order by rate_date) as valid_until,
        cast(usd_per_unit as {{ cdp.type_double() }}) as usd_per_unit
    from {{ ref('currency_rates') }}

),

converted as (

    select
        orders.*,
        '{{ reporting_currency }}' as reporting_currency_code,
        order_rates.usd_per_unit / reporting_rates.usd_per_unit as exchange_rate,
        cast(orders.order_amount as {{ cdp.type_double() }})
        * order_rates.usd_per_unit / reporting_rates.usd_per_unit as reporting_order_amount
    from orders
    left join rates as order_rates
        on
            orders.currency_code = order_rates.currency_code
            and cast(orders.ordered_at as date) >= order_rates.valid_from
            and (order_rates.valid_until is null or cast(orders.ordered_at as date) < order_rates.valid_until)
    left join rates as reporting_rates
        on
            reporting_rates.currency_code = '{{ reporting_currency }}'
            and cast(orders.ordered_at as date) >= reporting_rates.valid_from
            and (reporting_rates.valid_until is null or cast(orders.ordered_at as date) < reporting_rates.valid_until)

)

select * from converted
