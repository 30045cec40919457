-- Repeat buyers who have not ordered for more than 120 days. Consented, unsuppressed customers only.
with

traits as (

    select * from {{ ref('customer_traits') }}

),

suppressed as (

    select * from {{ ref('suppressed_customers') }}

),

members as (

    select
        traits.customer_id,
        traits.revenue,
        traits.orders,
        traits.days_since_last_order
    from traits
    left join suppressed on traits.customer_id = suppressed.customer_id
    where
        suppressed.customer_id is null
        and traits.has_marketing_consent
        and traits.orders >= 2
        and traits.days_since_last_order > 120

)

select * from members
