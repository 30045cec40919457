{#- The customer of every source record that carries an identifier: the customer of its anchor (its
    strongest usable identifier). A record whose identifiers are all excluded is a customer of its own. A
    record carrying a suppressed identifier (privacy_suppressions) belongs to the forgotten customer id,
    unresolved: it links nobody, and every mart leaves it out (suppressed_customers). -#}
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

suppressed_records as (

    select
        validated.source_table,
        validated.record_id,
        -- Suppressions recorded before privacy_suppressions had a customer_id get one id per request.
        min(coalesce(
            suppressions.customer_id,
            {{ cdp.mint_customer_id(dbt.concat(["'suppressed:'", 'suppressions.privacy_request_id'])) }}
        )) as customer_id
    from {{ ref('int_identifiers_validated') }} as validated
    inner join {{ ref('privacy_suppressions') }} as suppressions
        on validated.identifier_type = suppressions.identifier_type and validated.identifier_value = suppressions.identifier_value
    group by validated.source_table, validated.record_id

),

assigned as (

    select
        records.source_table,
        records.record_id,
        coalesce(
            suppressed_records.customer_id,
            graph.customer_id,
            {{ cdp.mint_customer_id(dbt.concat(["'record:'", 'records.source_table', "':'", 'records.record_id'])) }}
        ) as customer_id,
        case when suppressed_records.record_id is null then anchors.identifier_type end as matched_on_identifier_type,
        graph.customer_id is not null and suppressed_records.record_id is null as is_resolved
    from records
    left join anchors on records.source_table = anchors.source_table and records.record_id = anchors.record_id
    left join graph
        on anchors.identifier_type = graph.identifier_type and anchors.identifier_value = graph.identifier_value
    left join suppressed_records
        on records.source_table = suppressed_records.source_table and records.record_id = suppressed_records.record_id

)

select * from assigned
