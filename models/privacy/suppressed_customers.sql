-- Customers of this build holding any suppressed identifier: never in marts, segments or activation.
with

suppressions as (

    select * from {{ ref('privacy_suppressions') }}

),

graph as (

    select * from {{ ref('identity_graph') }}

),

suppressed as (

    select
        graph.customer_id,
        min(suppressions.privacy_request_id) as privacy_request_id,
        count(*) as suppressed_identifiers
    from graph
    inner join suppressions
        on
            graph.identifier_type = suppressions.identifier_type
            and graph.identifier_value = suppressions.identifier_value
    group by graph.customer_id

)

select * from suppressed
