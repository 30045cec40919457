{#- Each record's usable identifiers, ranked: the first (strongest type, then smallest value) is the anchor
    the record hangs on, and every other identifier of the record links to it. Ranked by value, not node id:
    node ids follow the order identifiers were first seen in. -#}
with

usable as (

    select distinct
        validated.source_table,
        validated.record_id,
        nodes.node_id,
        nodes.identifier_type,
        nodes.identifier_value,
        nodes.priority
    from {{ ref('int_identifiers_validated') }} as validated
    inner join {{ ref('int_identity_nodes') }} as nodes
        on nodes.identifier_type = validated.identifier_type and nodes.identifier_value = validated.identifier_value
    -- A record carrying a suppressed identifier links nobody.
    where validated.suppressing_request_id is null

),

ranked as (

    select
        *,
        row_number() over (partition by source_table, record_id order by priority, identifier_type, identifier_value) as rank_in_record
    from usable

)

select * from ranked
