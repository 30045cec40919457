-- One row per household: customers sharing a normalized street address (customers.household_id). The
-- address shown is that of the member with the smallest customer_id, so every warehouse agrees.
with

customers as (

    select * from {{ ref('customers') }}
    where household_id is not null

),

traits as (

    select * from {{ ref('customer_traits') }}

),

ranked_members as (

    select
        customers.*,
        row_number() over (partition by household_id order by customer_id) as member_rank
    from customers

),

members as (

    select
        household_id,
        count(*) as members,
        count(case when is_known then 1 end) as known_members,
        {{ dbt.listagg('customer_id', "','", 'order by customer_id') }} as member_customer_ids,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at
    from customers
    group by household_id

),

household_orders as (

    select
        customers.household_id,
        sum(traits.orders) as orders,
        sum(traits.revenue) as revenue,
        max(traits.last_order_at) as last_order_at
    from customers
    inner join traits on customers.customer_id = traits.customer_id
    group by customers.household_id

),

households as (

    select
        members.household_id,
        members.members,
        members.known_members,
        members.member_customer_ids,
        ranked_members.street,
        ranked_members.city,
        ranked_members.postal_code,
        ranked_members.country_code,
        cast(coalesce(household_orders.orders, 0) as {{ dbt.type_bigint() }}) as orders,
        cast(coalesce(household_orders.revenue, 0) as {{ cdp.type_double() }}) as revenue,
        household_orders.last_order_at,
        members.first_seen_at,
        members.last_seen_at
    from members
    inner join ranked_members on members.household_id = ranked_members.household_id and ranked_members.member_rank = 1
    left join household_orders on members.household_id = household_orders.household_id

)

select * from households
