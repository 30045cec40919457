-- Ad-platform audience: the lookalike seed list (best customers who agreed to ads; never suppressed ones),
-- carrying every email and phone of each person so that Customer Match, Custom Audiences and CRM data
-- segments can match as many of their accounts as possible. The destinations normalize and hash.
with

seed as (

    select customer_id from {{ ref('seg_declared') }}
    where segment_name = 'lookalike_seed'

),

customers as (

    select * from {{ ref('customers') }}

),

traits as (

    select * from {{ ref('customer_traits') }}

),

members as (

    select
        customers.customer_id,
        customers.all_emails as emails,
        customers.all_phones as phones,
        customers.first_name,
        customers.last_name,
        customers.city,
        customers.postal_code,
        customers.country_code
    from seed
    inner join customers on seed.customer_id = customers.customer_id
    inner join traits on seed.customer_id = traits.customer_id
    where
        traits.has_ads_consent
        and (customers.all_emails is not null or customers.all_phones is not null)

)

select * from members
