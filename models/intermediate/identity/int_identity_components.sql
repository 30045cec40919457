{{ config(materialized='identity_components') }}

select
    node_a,
    node_b,
    node_a_type,
    node_b_type,
    cut_priority
from {{ ref('int_identity_edges') }}
