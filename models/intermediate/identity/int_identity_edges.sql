{#- Links between identifiers seen on one record: a star from each record's anchor. cut_priority is the
    weaker end's priority: when a customer breaks a limit, the weakest links go first. -#}
with

anchors as (

    select * from {{ ref('int_identity_record_anchors') }} where rank_in_record = 1

),

others as (

    select * from {{ ref('int_identity_record_anchors') }} where rank_in_record > 1

),

edges as (

    select
        anchors.node_id as node_a,
        others.node_id as node_b,
        anchors.identifier_type as node_a_type,
        others.identifier_type as node_b_type,
        case when others.priority > anchors.priority then others.priority else anchors.priority end as cut_priority,
        count(*) as records
    from anchors
    inner join others on others.source_table = anchors.source_table and others.record_id = anchors.record_id
    group by 1, 2, 3, 4, 5

)

select * from edges
