-- Two account ids in one customer means two people were joined: the user_id limit must hold.
with

accounts_per_customer as (

    select
        customer_id,
        count(*) as accounts
    from {{ ref('identity_graph') }}
    where identifier_type = 'user_id'
    group by customer_id

)

select * from accounts_per_customer
where accounts > 1
