-- Repeat buyers who have not ordered for more than 120 days.
select
    customer_id,
    revenue,
    orders,
    days_since_last_order
from {{ ref('customer_traits') }}
where orders >= 2 and days_since_last_order > 120
