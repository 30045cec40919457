{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    pre_hook="{{ cdp.delete_changed_keys(ref('int_customer_ids_scope'), ['identifier_type', 'identifier_value']) }}",
    post_hook="{{ cdp.identity_step_done() }}",
) }}
-- depends_on: {{ ref('int_customer_ids_scope') }}
{# Customer ids for the new components, kept stable against the previous identity_graph:
    a component keeps the id most of its identifiers had; when several old ids meet, the oldest survives;
    when an old id's identifiers split, the part holding most of them keeps it and the rest get new ids.
    Identifiers in the suppression list (privacy_suppressions: whole components of forgotten customers) get
    no customer id, so their old ids retire (int_customer_id_changes).
    Incremental: only the identifiers of int_customer_ids_scope (the changed ones, closed over their previous ids
    and current components) are resolved again; their rows are deleted first (pre-hook) and written again, so
    an identifier no longer in the graph leaves. Every other component keeps its id, as in a full build. -#}
{%- set previous_graph = cdp.previous_identity_graph() -%}
{%- set run_at = cdp.run_started_at_timestamp() -%}

with

nodes as (

    select
        nodes.node_id,
        nodes.identifier_type,
        nodes.identifier_value
    from {{ ref('int_identity_nodes') }} as nodes
    {%- if is_incremental() %}
    inner join {{ ref('int_customer_ids_scope') }} as scope
        on scope.identifier_type = nodes.identifier_type and scope.identifier_value = nodes.identifier_value
    {%- endif %}

),

components as (

    select node_id, component_id from {{ ref('int_identity_components') }}

),

suppressions as (

    select identifier_type, identifier_value, customer_id from {{ ref('privacy_suppressions') }}

),

members as (

    -- An identifier never seen with another one is a component of its own.
    select
        nodes.identifier_type,
        nodes.identifier_value,
        coalesce(components.component_id, nodes.node_id) as component_id
    from nodes
    left join components on components.node_id = nodes.node_id
    left join suppressions
        on suppressions.identifier_type = nodes.identifier_type and suppressions.identifier_value = nodes.identifier_value
    where suppressions.identifier_value is null

),

-- Every id the previous identity_graph gave out (read only for the ids this build would mint).
previous_graph as (

    {%- if previous_graph %}
    select identifier_type, identifier_value, customer_id, customer_id_minted_at from {{ previous_graph }}
    {%- else %}
    select
        cast(null as {{ dbt.type_string() }}) as identifier_type,
        cast(null as {{ dbt.type_string() }}) as identifier_value,
        cast(null as {{ dbt.type_string() }}) as customer_id,
        cast(null as {{ dbt.type_timestamp() }}) as customer_id_minted_at
    where 1 = 0
    {%- endif %}

),

-- The previous id of each member (the scope carries it on an incremental run).
previous as (

    {%- if is_incremental() %}
    select
        identifier_type,
        identifier_value,
        previous_customer_id as customer_id,
        previous_customer_id_minted_at as customer_id_minted_at
    from {{ ref('int_customer_ids_scope') }}
    where previous_customer_id is not null
    {%- else %}
    select * from previous_graph
    {%- endif %}

),

-- Ties are broken by each component's first identifier, never by node ids.
component_keys as (

    select
        component_id,
        min({{ dbt.concat(['identifier_type', "':'", 'identifier_value']) }}) as first_identifier
    from members
    group by component_id

),

claims as (

    select
        members.component_id,
        previous.customer_id,
        min(previous.customer_id_minted_at) as minted_at,
        count(*) as members_carrying_id
    from members
    inner join previous
        on previous.identifier_type = members.identifier_type and previous.identifier_value = members.identifier_value
    group by members.component_id, previous.customer_id

),

owned_ids as (

    select * from (
        select
            claims.*,
            row_number() over (
                partition by claims.customer_id order by claims.members_carrying_id desc, component_keys.first_identifier
            ) as owner_rank
        from claims
        inner join component_keys on component_keys.component_id = claims.component_id
    ) as ranked_owners
    where owner_rank = 1

),

survivors as (

    select * from (
        select
            *,
            row_number() over (partition by component_id order by minted_at, customer_id) as survivor_rank
        from owned_ids
    ) as ranked_ids
    where survivor_rank = 1

),

candidates as (

    select
        component_keys.component_id,
        survivors.customer_id as surviving_customer_id,
        survivors.minted_at,
        {{ cdp.mint_customer_id('component_keys.first_identifier') }} as minted_customer_id,
        {{ cdp.mint_customer_id(dbt.concat(['component_keys.first_identifier', "'@'", "'" ~ run_started_at.strftime('%Y%m%d%H%M%S') ~ "'"])) }} as fallback_customer_id
    from component_keys
    left join survivors on survivors.component_id = component_keys.component_id

),

-- The derived ids already taken: used by a customer of the previous graph (after a split), or by a forgotten
-- customer. Looked up from the ids this build would mint.
taken_ids as (

    select previous_graph.customer_id
    from previous_graph
    where previous_graph.customer_id in (select minted_customer_id from candidates where surviving_customer_id is null)
    union
    select suppressions.customer_id
    from suppressions
    where suppressions.customer_id in (select minted_customer_id from candidates where surviving_customer_id is null)

),

resolved_components as (

    select
        candidates.component_id,
        case
            when candidates.surviving_customer_id is not null then candidates.surviving_customer_id
            -- A derived id already given out is never reused.
            when taken_ids.customer_id is not null then candidates.fallback_customer_id
            else candidates.minted_customer_id
        end as customer_id,
        coalesce(candidates.minted_at, {{ run_at }}) as customer_id_minted_at
    from candidates
    left join taken_ids on taken_ids.customer_id = candidates.minted_customer_id

),

resolved as (

    select
        members.identifier_type,
        members.identifier_value,
        members.component_id,
        resolved_components.customer_id,
        resolved_components.customer_id_minted_at
    from members
    inner join resolved_components on resolved_components.component_id = members.component_id

)

select * from resolved
