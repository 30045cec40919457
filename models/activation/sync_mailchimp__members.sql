{{ config(**cdp.incremental_mart_config(delete='trait_level_delete')) }}
-- Mailchimp audience members: customers with email consent (never suppressed ones), with merge fields.
-- Applies only the customers whose rows may have changed (cdp.trait_rows_filter).
select
    customer_id,
    primary_email as email_address,
    first_name as fname,
    last_name as lname,
    orders
from {{ ref('int_email_contactable_customers') }}
where {{ cdp.trait_rows_filter('customer_id') }}
