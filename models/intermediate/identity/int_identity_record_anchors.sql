{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ cdp.identity_delete_changed(ref('int_identity_anchor_changes'), ['source_table', 'record_id']) }}",
    post_hook="{{ cdp.identity_step_done() }}",
) }}
{#- Each record's usable identifiers, ranked (identity_ranked_anchors): the first is the anchor the record
    hangs on. Incremental: the records a build may change (int_identity_anchor_changes) are ranked again. -#}

{%- if cdp.identity_applies_changes() %}
select source_table, record_id, node_id, identifier_type, identifier_value, priority, rank_in_record
from {{ ref('int_identity_anchor_changes') }}
where change = 'new'
{%- else %}
-- depends_on: {{ ref('int_identity_anchor_changes') }}
{{ cdp.identity_ranked_anchors() }}
{%- endif %}
