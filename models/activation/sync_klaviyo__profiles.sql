{{ config(**cdp.incremental_mart_config(delete='trait_level_delete')) }}
-- Klaviyo profiles: known customers with email consent (never suppressed ones), with the customer_id as the
-- external id and CDP traits as custom properties.
-- Applies only the customers whose rows may have changed (cdp.trait_rows_filter).
select
    customer_id,
    primary_email as email,
    primary_phone as phone_number,
    first_name,
    last_name,
    city,
    country_code as country,
    orders,
    revenue
from {{ ref('int_email_contactable_customers') }}
where {{ cdp.trait_rows_filter('customer_id') }}
