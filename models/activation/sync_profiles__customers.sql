{{ config(**cdp.incremental_mart_config(delete='profile_level_delete')) }}
-- One profile per customer for the profile store (the profile API's copy): every identifier the identity graph
-- holds for them, one JSON array per type, with the golden record, a few traits, the segments they are in now
-- and their consent per channel. Anonymous visitors are included (a website looks them up by anonymous_id);
-- suppressed customers never appear. Applies only the customers whose rows may have changed: those of
-- cdp.trait_rows_filter, and those who entered or left a segment (it reads no trait column but those of
-- cdp.trait_change_columns).

with

customers as (

    select * from {{ ref('customers') }}
    where {{ cdp.trait_rows_filter('customer_id', memberships=true) }}

),

traits as (

    select * from {{ ref('customer_traits') }}
    where {{ cdp.trait_rows_filter('customer_id', memberships=true) }}

),

identifiers_by_customer as (

    select * from {{ ref('int_customer_identifier_lists') }}
    where {{ cdp.trait_rows_filter('customer_id', memberships=true) }}

),

memberships as (

    select * from {{ ref('segment_memberships') }}

),

suppressed as (

    select * from {{ ref('suppressed_customers') }}

),

current_segments as (

    select
        customer_id,
        {{ cdp.json_array_agg('segment_name') }} as segments
    from memberships
    where exited_at is null and {{ cdp.trait_rows_filter('customer_id', memberships=true) }}
    group by customer_id

),

profiles as (

    select
        customers.customer_id,
        coalesce(identifiers_by_customer.emails, '[]') as emails,
        coalesce(identifiers_by_customer.phones, '[]') as phones,
        coalesce(identifiers_by_customer.user_ids, '[]') as user_ids,
        coalesce(identifiers_by_customer.anonymous_ids, '[]') as anonymous_ids,
        coalesce(identifiers_by_customer.device_ids, '[]') as device_ids,
        coalesce(identifiers_by_customer.loyalty_card_ids, '[]') as loyalty_card_ids,
        coalesce(identifiers_by_customer.cookie_ids, '[]') as cookie_ids,
        customers.first_name,
        customers.last_name,
        customers.primary_email,
        customers.primary_phone,
        customers.city,
        customers.postal_code,
        customers.country_code,
        customers.household_id,
        customers.is_known,
        customers.first_seen_at,
        customers.last_seen_at,
        traits.orders,
        traits.revenue,
        traits.last_order_at,
        traits.recency_score,
        traits.frequency_score,
        coalesce(current_segments.segments, '[]') as segments,
        coalesce(traits.has_email_consent, false) as has_email_consent,
        coalesce(traits.has_sms_consent, false) as has_sms_consent,
        coalesce(traits.has_ads_consent, false) as has_ads_consent
    from customers
    left join traits on customers.customer_id = traits.customer_id
    left join identifiers_by_customer on customers.customer_id = identifiers_by_customer.customer_id
    left join current_segments on customers.customer_id = current_segments.customer_id
    where not exists (
        select 1 from suppressed
        where suppressed.customer_id = customers.customer_id
    )

)

select * from profiles
