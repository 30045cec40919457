-- CRM contacts for HubSpot: known customers with email consent (never suppressed ones), one row per customer.
select
    customer_id,
    primary_email as email,
    first_name as firstname,
    last_name as lastname,
    primary_phone as phone,
    city,
    country_code as country,
    orders as cdp_orders,
    revenue as cdp_revenue,
    recency_score as cdp_recency_score
from {{ ref('int_email_contactable_customers') }}
