-- CRM contacts for HubSpot: known customers with email consent (never suppressed ones), one row per customer.
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
        customers.first_name as firstname,
        customers.last_name as lastname,
        customers.primary_phone as phone,
        customers.city,
        customers.country_code as country,
        traits.orders as cdp_orders,
        traits.revenue as cdp_revenue,
        traits.recency_score as cdp_recency_score
    from customers
    inner join traits on customers.customer_id = traits.customer_id
    where customers.primary_email is not null and traits.has_email_consent

)

select * from shaped
