{#- The customer of every source record that carries an identifier: the customer of its anchor (its
    strongest usable identifier). A record whose identifiers are all excluded is a customer of its own. -#}
with

records as (

    select distinct
        source_table,
        record_id
    from {{ ref('int_identifiers_unioned') }}

),

anchors as (

    select
        anchors.source_table,
        anchors.record_id,
        nodes.identifier_type,
        nodes.identifier_value
    from {{ ref('int_identity_record_anchors') }} as anchors
    inner join {{ ref('int_identity_nodes') }} as nodes on anchors.node_id = nodes.node_id
    where anchors.rank_in_record = 1

),

graph as (

    select * from {{ ref('identity_graph') }}

),

assigned as (

    select
        records.source_table,
        records.record_id,
        coalesce(
            graph.customer_id,
            {{ cdp.mint_customer_id(dbt.concat(["'record:'", 'records.source_table', "':'", 'records.record_id'])) }}
        ) as customer_id,
        anchors.identifier_type as matched_on_identifier_type,
        graph.customer_id is not null as is_resolved
    from records
    left join anchors on records.source_table = anchors.source_table and records.record_id = anchors.record_id
    left join graph
        on anchors.identifier_type = graph.identifier_type and anchors.identifier_value = graph.identifier_value

)

select * from assigned
