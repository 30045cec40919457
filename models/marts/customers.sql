{%- set household_key = dbt.concat(["lower(addresses.street)", "'|'", "coalesce(addresses.postal_code, '')", "'|'", "coalesce(addresses.country_code, '')"]) -%}
-- One row per customer: the golden record. Survivorship: name from the CRM (newest record) before web
-- identify traits (newest); address from the newest CRM record; primary email and phone are the ones seen on
-- most records (then most recently). Suppressed (forgotten) customers are left out.
with

records as (

    select * from {{ ref('identity_records') }}

),

graph as (

    select * from {{ ref('identity_graph') }}

),

suppressed as (

    select customer_id from {{ ref('suppressed_customers') }}

),

crm_contacts as (

    select
        records.customer_id,
        contacts.first_name,
        contacts.last_name,
        contacts.street,
        contacts.city,
        contacts.postal_code,
        contacts.country_code,
        contacts.updated_at
    from {{ ref('stg_crm__contacts') }} as contacts
    inner join records on records.source_table = 'stg_crm__contacts' and contacts.contact_id = records.record_id

),

identify_traits as (

    select
        records.customer_id,
        identifies.first_name,
        identifies.last_name,
        identifies.identified_at
    from {{ ref('stg_segment__identifies') }} as identifies
    inner join records on records.source_table = 'stg_segment__identifies' and identifies.identify_id = records.record_id
    where identifies.first_name is not null or identifies.last_name is not null

),

name_candidates as (

    select
        customer_id,
        first_name,
        last_name,
        'crm' as name_source,
        1 as source_priority,
        updated_at as observed_at
    from crm_contacts
    where first_name is not null or last_name is not null
    union all
    select
        customer_id,
        first_name,
        last_name,
        'web' as name_source,
        2 as source_priority,
        identified_at as observed_at
    from identify_traits

),

names as (

    select * from (
        select
            *,
            row_number() over (
                partition by customer_id order by source_priority asc, observed_at desc, first_name asc, last_name asc
            ) as name_rank
        from name_candidates
    ) as ranked_names
    where name_rank = 1

),

addresses as (

    select * from (
        select
            *,
            row_number() over (partition by customer_id order by updated_at desc, street asc) as address_rank
        from crm_contacts
        where street is not null
    ) as ranked_addresses
    where address_rank = 1

),

contact_points as (

    select
        customer_id,
        identifier_type,
        identifier_value,
        row_number() over (
            partition by customer_id, identifier_type order by records desc, last_seen_at desc, identifier_value asc
        ) as contact_rank
    from graph
    where identifier_type in ('email', 'phone')

),

contact_lists as (

    select
        customer_id,
        max(case when identifier_type = 'email' and contact_rank = 1 then identifier_value end) as primary_email,
        max(case when identifier_type = 'phone' and contact_rank = 1 then identifier_value end) as primary_phone,
        count(case when identifier_type = 'email' then 1 end) as email_count,
        count(case when identifier_type = 'phone' then 1 end) as phone_count
    from contact_points
    group by customer_id

),

emails as (

    select
        customer_id,
        {{ dbt.listagg('identifier_value', "','", 'order by identifier_value') }} as all_emails
    from graph
    where identifier_type = 'email'
    group by customer_id

),

phones as (

    select
        customer_id,
        {{ dbt.listagg('identifier_value', "','", 'order by identifier_value') }} as all_phones
    from graph
    where identifier_type = 'phone'
    group by customer_id

),

lifecycle as (

    select
        customer_id,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        count(case when identifier_type in ('email', 'phone', 'user_id', 'loyalty_card_id') then 1 end) > 0 as is_known
    from graph
    group by customer_id

),

customer_ids as (

    select
        customer_id,
        count(*) as records
    from records
    group by customer_id

),

customers as (

    select
        customer_ids.customer_id,
        names.first_name,
        names.last_name,
        names.name_source,
        contact_lists.primary_email,
        emails.all_emails,
        contact_lists.primary_phone,
        phones.all_phones,
        addresses.street,
        addresses.city,
        addresses.postal_code,
        addresses.country_code,
        case when addresses.street is not null then 'crm' end as address_source,
        case
            when addresses.street is not null
                then {{ dbt.concat(["'hh_'", "substr(" ~ dbt.hash(household_key) ~ ", 1, 16)"]) }}
        end as household_id,
        lifecycle.first_seen_at,
        lifecycle.last_seen_at,
        coalesce(lifecycle.is_known, false) as is_known,
        customer_ids.records
    from customer_ids
    left join names on customer_ids.customer_id = names.customer_id
    left join addresses on customer_ids.customer_id = addresses.customer_id
    left join contact_lists on customer_ids.customer_id = contact_lists.customer_id
    left join emails on customer_ids.customer_id = emails.customer_id
    left join phones on customer_ids.customer_id = phones.customer_id
    left join lifecycle on customer_ids.customer_id = lifecycle.customer_id
    where customer_ids.customer_id not in (select customer_id from suppressed)

)

select * from customers
