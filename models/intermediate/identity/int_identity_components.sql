{{ config(
    materialized='identity_components',
    nodes='int_identity_nodes',
    node_ids='int_identity_node_ids',
    changed_links='int_identity_edge_changes',
    post_hook="{{ cdp.identity_step_done() }}",
) }}
-- depends_on: {{ ref('int_identity_nodes') }} {{ ref('int_identity_node_ids') }} {{ ref('int_identity_edge_changes') }}

select
    node_a,
    node_b,
    node_a_type,
    node_b_type,
    cut_priority
from {{ ref('int_identity_edges') }}
