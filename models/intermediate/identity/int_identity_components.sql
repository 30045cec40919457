{{ config(materialized='identity_components', nodes='int_identity_nodes', node_ids='int_identity_node_ids') }}
-- depends_on: {{ ref('int_identity_nodes') }} {{ ref('int_identity_node_ids') }}

select
    node_a,
    node_b,
    node_a_type,
    node_b_type,
    cut_priority
from {{ ref('int_identity_edges') }}
