{{ config(**cdp.incremental_mart_config(delete='trait_level_delete')) }}
-- Known customers with email consent, for the generic webhook destination: one row per customer_id.
-- Applies only the customers whose rows may have changed (cdp.trait_rows_filter).
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
where {{ cdp.trait_rows_filter('customer_id') }}
