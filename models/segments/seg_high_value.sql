-- Best customers: top revenue quintile who still bought recently. Consented, unsuppressed customers only.
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
        and traits.monetary_score = 5
        and traits.recency_score >= 3

)

select * from members
