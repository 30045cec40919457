-- Customers we may email: a primary email and granted email consent. Suppressed customers are already gone
-- from the marts this reads. The activation models for CRM and email destinations start here.
with

customers as (

    select * from {{ ref('customers') }}

),

traits as (

    select * from {{ ref('customer_traits') }}

),

contactable as (

    select
        customers.*,
        traits.orders,
        traits.revenue,
        traits.recency_score
    from customers
    inner join traits on customers.customer_id = traits.customer_id
    where customers.primary_email is not null and traits.has_email_consent

)

select * from contactable
