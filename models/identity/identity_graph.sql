-- Built after the id changes are logged: both read the previous identity_graph before it is replaced.
-- depends_on: {{ ref('int_customer_id_changes') }}

with

resolved as (

    select * from {{ ref('int_customer_ids_resolved') }}

),

nodes as (

    select * from {{ ref('int_identity_nodes') }}

),

graph as (

    select
        resolved.identifier_type,
        resolved.identifier_value,
        resolved.customer_id,
        resolved.customer_id_minted_at,
        nodes.first_seen_at,
        nodes.last_seen_at,
        nodes.sources,
        nodes.records
    from resolved
    inner join nodes
        on resolved.identifier_type = nodes.identifier_type and resolved.identifier_value = nodes.identifier_value

)

select * from graph
