{{ config(**cdp.incremental_mart_config(delete='trait_level_delete')) }}
-- CRM contacts for HubSpot: known customers with email consent (never suppressed ones), one row per customer.
-- Applies only the customers whose rows may have changed (cdp.trait_rows_filter).
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
where {{ cdp.trait_rows_filter('customer_id') }}
