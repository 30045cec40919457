-- Known customers with email consent, for the generic webhook destination: one row per customer_id.
select
    customer_id,
    primary_email as email,
    primary_phone as phone,
    first_name,
    last_name,
    orders,
    revenue,
    first_seen_at,
    last_seen_at
from {{ ref('int_email_contactable_customers') }}
