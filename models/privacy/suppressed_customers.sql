-- Customers never to appear in marts, segments or activation: every customer id a forgotten person was known by
-- (privacy_suppressions.customer_id; the identity layer has retired them, and identity_records still hands
-- their records to them so every mart drops those records), plus any customer of this build holding a
-- suppressed identifier (none while the identity layer applies the list; a safety net).
with

suppressions as (

    select * from {{ ref('privacy_suppressions') }}

),

graph as (

    select * from {{ ref('identity_graph') }}

),

forgotten as (

    select
        -- The same id identity_records gives suppressions recorded before they had a customer_id.
        coalesce(
            customer_id,
            {{ cdp.mint_customer_id(dbt.concat(["'suppressed:'", 'privacy_request_id'])) }}
        ) as customer_id,
        privacy_request_id
    from suppressions
    union all
    select
        graph.customer_id,
        suppressions.privacy_request_id
    from graph
    inner join suppressions
        on
            graph.identifier_type = suppressions.identifier_type
            and graph.identifier_value = suppressions.identifier_value

),

suppressed as (

    select
        customer_id,
        min(privacy_request_id) as privacy_request_id,
        count(*) as suppressed_identifiers
    from forgotten
    group by customer_id

)

select * from suppressed
