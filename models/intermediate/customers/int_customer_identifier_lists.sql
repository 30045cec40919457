{{ config(**cdp.incremental_mart_config()) }}
-- Every identifier the identity graph holds for each customer, one JSON array per type (sorted): the profile
-- store's lists. Customer-level incremental (docs/customer_360.md, "Incremental builds"): a customer's
-- identifiers move only when the identity layer resolves them again, which touches the customer.
with

graph as (

    select * from {{ ref('identity_graph') }}
    where {{ cdp.customer_rows_filter('customer_id') }}

),

identifier_lists as (

    select
        customer_id,
        {{ cdp.json_array_agg('identifier_value', "identifier_type = 'email'") }} as emails,
        {{ cdp.json_array_agg('identifier_value', "identifier_type = 'phone'") }} as phones,
        {{ cdp.json_array_agg('identifier_value', "identifier_type = 'user_id'") }} as user_ids,
        {{ cdp.json_array_agg('identifier_value', "identifier_type = 'anonymous_id'") }} as anonymous_ids,
        {{ cdp.json_array_agg('identifier_value', "identifier_type = 'device_id'") }} as device_ids,
        {{ cdp.json_array_agg('identifier_value', "identifier_type = 'loyalty_card_id'") }} as loyalty_card_ids,
        {{ cdp.json_array_agg('identifier_value', "identifier_type = 'cookie_id'") }} as cookie_ids
    from graph
    group by customer_id

)

select * from identifier_lists
