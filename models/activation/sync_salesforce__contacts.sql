{{ config(**cdp.incremental_mart_config(delete='trait_level_delete')) }}
-- Salesforce contacts: known customers with email consent (never suppressed ones). Salesforce requires a last
-- name on every contact, so customers without one are left for the email tools.
-- Applies only the customers whose rows may have changed (cdp.trait_rows_filter).
select
    customer_id,
    primary_email as email,
    first_name,
    last_name,
    primary_phone as phone,
    city,
    country_code as country,
    orders,
    revenue
from {{ ref('int_email_contactable_customers') }}
where last_name is not null and {{ cdp.trait_rows_filter('customer_id') }}
