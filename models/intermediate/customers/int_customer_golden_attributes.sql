{{ config(**cdp.incremental_mart_config()) }}
{#- The golden record's attributes, one row per customer that has any: each attribute survives by the rule
    set for it in vars.cdp_survivorship (cdp.survivorship_winners), and <attribute>_source says which source
    won. -#}
with

name_candidates as (

    select * from {{ ref('int_customer_name_candidates') }}
    where {{ cdp.customer_rows_filter('customer_id') }}

),

address_candidates as (

    select * from {{ ref('int_customer_address_candidates') }}
    where {{ cdp.customer_rows_filter('customer_id') }}

),

contact_candidates as (

    select * from {{ ref('int_customer_contact_candidates') }}
    where {{ cdp.customer_rows_filter('customer_id') }}

),

email_candidates as (

    select
        customer_id,
        source,
        observed_at,
        identifier_value as primary_email
    from contact_candidates
    where identifier_type = 'email'

),

phone_candidates as (

    select
        customer_id,
        source,
        observed_at,
        identifier_value as primary_phone
    from contact_candidates
    where identifier_type = 'phone'

),

names as (

    select * from {{ cdp.survivorship_winners('name_candidates', 'name') }}

),

addresses as (

    select * from {{ cdp.survivorship_winners('address_candidates', 'address') }}

),

emails as (

    select * from {{ cdp.survivorship_winners('email_candidates', 'primary_email') }}

),

phones as (

    select * from {{ cdp.survivorship_winners('phone_candidates', 'primary_phone') }}

),

customer_ids as (

    select customer_id from names
    union
    select customer_id from addresses
    union
    select customer_id from emails
    union
    select customer_id from phones

),

golden as (

    select
        customer_ids.customer_id,
        names.first_name,
        names.last_name,
        names.name_source,
        emails.primary_email,
        emails.primary_email_source,
        phones.primary_phone,
        phones.primary_phone_source,
        addresses.street,
        addresses.city,
        addresses.postal_code,
        addresses.country_code,
        addresses.address_source
    from customer_ids
    left join names on customer_ids.customer_id = names.customer_id
    left join addresses on customer_ids.customer_id = addresses.customer_id
    left join emails on customer_ids.customer_id = emails.customer_id
    left join phones on customer_ids.customer_id = phones.customer_id

)

select * from golden
