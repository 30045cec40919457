{{ config(materialized='identity_components', nodes='int_identity_nodes') }}
-- depends_on: {{ ref('int_identity_nodes') }}

select
    node_a,
    node_b,
    node_a_type,
    node_b_type,
    cut_priority
from {{ ref('int_identity_edges') }}
