{%- set household_key = dbt.concat(["lower(golden.street)", "'|'", "coalesce(golden.postal_code, '')", "'|'", "coalesce(golden.country_code, '')"]) -%}
{{ config(**cdp.incremental_mart_config()) }}
-- One row per customer: the golden record. Name, address, primary email and primary phone survive by the rules
-- in vars.cdp_survivorship (int_customer_golden_attributes); every email and phone is listed too. Suppressed
-- (forgotten) customers are left out. Incremental (docs/customer_360.md, "Incremental builds"): a build writes
-- again the rows of the customers it touched.
with

records as (

    select * from {{ ref('identity_records') }}
    where {{ cdp.customer_rows_filter('customer_id') }}

),

graph as (

    select * from {{ ref('identity_graph') }}
    where {{ cdp.customer_rows_filter('customer_id') }}

),

golden as (

    select * from {{ ref('int_customer_golden_attributes') }}
    where {{ cdp.customer_rows_filter('customer_id') }}

),

suppressed as (

    select customer_id from {{ ref('suppressed_customers') }}

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
        golden.first_name,
        golden.last_name,
        golden.name_source,
        golden.primary_email,
        emails.all_emails,
        golden.primary_phone,
        phones.all_phones,
        golden.street,
        golden.city,
        golden.postal_code,
        golden.country_code,
        golden.address_source,
        case
            when golden.street is not null
                then {{ dbt.concat(["'hh_'", "substr(" ~ dbt.hash(household_key) ~ ", 1, 16)"]) }}
        end as household_id,
        lifecycle.first_seen_at,
        lifecycle.last_seen_at,
        coalesce(lifecycle.is_known, false) as is_known,
        customer_ids.records,
        golden.primary_email_source,
        golden.primary_phone_source
    from customer_ids
    left join golden on customer_ids.customer_id = golden.customer_id
    left join emails on customer_ids.customer_id = emails.customer_id
    left join phones on customer_ids.customer_id = phones.customer_id
    left join lifecycle on customer_ids.customer_id = lifecycle.customer_id
    where customer_ids.customer_id not in (select customer_id from suppressed)

)

select * from customers
