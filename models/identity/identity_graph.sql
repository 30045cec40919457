{{ config(
    materialized='incremental',
    on_schema_change='append_new_columns',
    incremental_strategy='append',
    pre_hook="{{ cdp.delete_changed_keys(ref('int_customer_ids_scope'), ['identifier_type', 'identifier_value']) }}",
    post_hook="{{ cdp.identity_step_done() }}",
) }}
-- Built after the id changes are logged: both read the previous identity_graph before its rows are rewritten.
-- depends_on: {{ ref('int_customer_id_changes') }} {{ ref('int_customer_ids_scope') }}
-- Incremental: the rows of the identifiers resolved again (int_customer_ids_scope, which holds every changed
-- identifier, so a node row whose counts changed is written again too) are deleted (pre-hook) and written again;
-- an identifier no longer in the graph is not written back.

with

resolved as (

    select resolved.*
    from {{ ref('int_customer_ids_resolved') }} as resolved
    {% if is_incremental() %}
        inner join {{ ref('int_customer_ids_scope') }} as scope
            on resolved.identifier_type = scope.identifier_type and resolved.identifier_value = scope.identifier_value
    {%- endif %}

),

nodes as (

    select * from {{ ref('int_identity_nodes') }}

),

graph as (

    select
        resolved.identifier_type,
        resolved.identifier_value,
        resolved.customer_id,
        resolved.customer_id_minted_at,
        nodes.first_seen_at,
        nodes.last_seen_at,
        nodes.sources,
        nodes.records
    from resolved
    inner join nodes
        on resolved.identifier_type = nodes.identifier_type and resolved.identifier_value = nodes.identifier_value

)

select * from graph
