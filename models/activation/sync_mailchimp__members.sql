-- Mailchimp audience members: customers with email consent (never suppressed ones), with merge fields.
select
    customer_id,
    primary_email as email_address,
    first_name as fname,
    last_name as lname,
    orders
from {{ ref('int_email_contactable_customers') }}
