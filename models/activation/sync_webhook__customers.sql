-- Known customers (with an email) for the generic webhook destination: one row per customer_id.
with

graph as (

    select * from {{ ref('identity_graph') }}

),

customers as (

    select
        customer_id,
        min(case when identifier_type = 'email' then identifier_value end) as email,
        min(case when identifier_type = 'phone' then identifier_value end) as phone,
        min(case when identifier_type = 'user_id' then identifier_value end) as user_id,
        count(*) as identifiers,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at
    from graph
    group by customer_id

)

select * from customers
where email is not null
