-- Best customers: top revenue quintile who still bought recently.
select
    customer_id,
    revenue,
    orders,
    days_since_last_order
from {{ ref('customer_traits') }}
where monetary_score = 5 and recency_score >= 3
