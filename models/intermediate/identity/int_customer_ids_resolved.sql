{#- Customer ids for the new components, kept stable against the previous identity_graph:
    a component keeps the id most of its identifiers had; when several old ids meet, the oldest survives;
    when an old id's identifiers split, the part holding most of them keeps it and the rest get new ids.
    Identifiers in the suppression list (privacy_suppressions: whole components of forgotten customers) get
    no customer id, so their old ids retire (int_customer_id_changes). -#}
{%- set previous_graph = cdp.previous_identity_graph() -%}
{%- set run_at = "cast('" ~ run_started_at.strftime('%Y-%m-%d %H:%M:%S') ~ "' as " ~ dbt.type_timestamp() ~ ")" -%}

with

nodes as (

    select node_id, identifier_type, identifier_value from {{ ref('int_identity_nodes') }}

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

previous as (

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

resolved_components as (

    select
        component_id,
        case
            when surviving_customer_id is not null then surviving_customer_id
            -- A derived id already used by another customer (after a split) is never reused.
            when minted_customer_id in (select customer_id from previous) then fallback_customer_id
            -- Nor is the id of a forgotten customer.
            when minted_customer_id in (select customer_id from suppressions where customer_id is not null) then fallback_customer_id
            else minted_customer_id
        end as customer_id,
        coalesce(minted_at, {{ run_at }}) as customer_id_minted_at,
        surviving_customer_id is null as is_new_customer_id
    from candidates

),

resolved as (

    select
        members.identifier_type,
        members.identifier_value,
        members.component_id,
        resolved_components.customer_id,
        resolved_components.customer_id_minted_at,
        resolved_components.is_new_customer_id,
        previous.customer_id as previous_customer_id
    from members
    inner join resolved_components on resolved_components.component_id = members.component_id
    left join previous
        on previous.identifier_type = members.identifier_type and previous.identifier_value = members.identifier_value

)

select * from resolved
