-- First order within the last 30 days.
select
    customer_id,
    revenue,
    orders,
    days_since_last_order
from {{ ref('customer_traits') }}
where first_order_at > {{ dbt.dateadd('day', -30, 'as_of_at') }}
