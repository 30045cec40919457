{#- SQL: the links between identifiers seen on one record, from ranked identifiers (`anchors`, as
    int_identity_record_anchors): a star from each record's anchor. cut_priority is the weaker end's
    priority: when a customer breaks a limit, the weakest links go first. `extra` names columns of
    `anchors` kept with each link (they must be equal on both ends, as a record key is). -#}
{% macro identity_record_links(anchors, extra=[]) -%}
    select
        {%- for column in extra %}
        anchor.{{ column }},
        {%- endfor %}
        anchor.source_table,
        anchor.record_id,
        anchor.node_id as node_a,
        other.node_id as node_b,
        anchor.identifier_type as node_a_type,
        other.identifier_type as node_b_type,
        case when other.priority > anchor.priority then other.priority else anchor.priority end as cut_priority
    from {{ anchors }} as anchor
    inner join {{ anchors }} as other
        on
            other.source_table = anchor.source_table
            and other.record_id = anchor.record_id
            {%- for column in extra %}
            and other.{{ column }} = anchor.{{ column }}
            {%- endfor %}
            and other.rank_in_record > 1
    where anchor.rank_in_record = 1
{%- endmacro %}
