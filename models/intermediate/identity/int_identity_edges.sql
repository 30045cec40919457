{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['node_a', 'node_b'],
    on_schema_change='append_new_columns',
    pre_hook="{{ cdp.identity_delete_changed(none, []) if not cdp.identity_applies_changes() else '' }}",
    post_hook=["{{ cdp.delete_where(this, 'records <= 0') }}", "{{ cdp.identity_step_done() }}"],
) }}
{#- Links between identifiers seen on one record (identity_record_links), with the number of records
    carrying each. Incremental: each changed link's count moves by int_identity_edge_changes; a link no
    record carries any more is deleted. -#}

{%- if cdp.identity_applies_changes() %}
select
    changed.node_a,
    changed.node_b,
    changed.node_a_type,
    changed.node_b_type,
    changed.cut_priority,
    coalesce(held.records, 0) + changed.records_delta as records
from {{ ref('int_identity_edge_changes') }} as changed
left join {{ this }} as held on held.node_a = changed.node_a and held.node_b = changed.node_b
{%- else %}
-- depends_on: {{ ref('int_identity_edge_changes') }}
with

record_links as (
{{ cdp.identity_record_links(ref('int_identity_record_anchors')) }}

)

select
    node_a,
    node_b,
    node_a_type,
    node_b_type,
    cut_priority,
    count(*) as records
from record_links
group by node_a, node_b, node_a_type, node_b_type, cut_priority
{%- endif %}
