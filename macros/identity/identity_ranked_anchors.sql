{#- SQL: each record's usable identifiers, ranked: the first (strongest type, then smallest value) is the
    anchor the record hangs on, and every other identifier of the record links to it. Ranked by value, not
    node id: node ids follow the order identifiers were first seen in. Limited to the records in `records`
    (source_table, record_id) when given. -#}
{% macro identity_ranked_anchors(records=none) -%}
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
    where
        validated.suppressing_request_id is null
        {%- if records %}
        and exists (
            select 1 from {{ records }} as ranked_record
            where ranked_record.source_table = validated.source_table and ranked_record.record_id = validated.record_id
        )
        {%- endif %}

)

select
    *,
    row_number() over (partition by source_table, record_id order by priority, identifier_type, identifier_value) as rank_in_record
from usable
{%- endmacro %}
