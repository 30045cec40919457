{{ config(**cdp.incremental_mart_config(delete='trait_level_delete')) }}
-- Braze users: known customers with email consent (never suppressed ones), keyed by customer_id as the Braze
-- external_id, opted in to email because their consent is on record.
-- Applies only the customers whose rows may have changed (cdp.trait_rows_filter).
select
    customer_id,
    primary_email as email,
    first_name,
    last_name,
    primary_phone as phone,
    country_code as country,
    cast('opted_in' as {{ dbt.type_string() }}) as email_subscribe,
    orders,
    revenue
from {{ ref('int_email_contactable_customers') }}
where {{ cdp.trait_rows_filter('customer_id') }}
