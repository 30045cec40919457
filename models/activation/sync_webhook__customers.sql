-- Known customers with email consent, for the generic webhook destination: one row per customer_id.
-- Built on the customers mart, so forgotten (suppressed) customers never reach it.
with

customers as (

    select * from {{ ref('customers') }}

),

traits as (

    select * from {{ ref('customer_traits') }}

),

shaped as (

    select
        customers.customer_id,
        customers.primary_email as email,
        customers.primary_phone as phone,
        customers.first_name,
        customers.last_name,
        traits.orders,
        traits.revenue,
        customers.first_seen_at,
        customers.last_seen_at
    from customers
    inner join traits on customers.customer_id = traits.customer_id
    where customers.primary_email is not null and traits.has_email_consent

)

select * from shaped
