-- depends_on: {{ ref('int_identity_changed_identifiers') }} {{ ref('privacy_suppressions') }} {{ ref('int_identity_components') }}
-- depends_on: {{ ref('int_identity_nodes') }}
{# The identifiers whose customer id this build resolves again, each with the id (and mint time) it had in the
    previous identity_graph. Two kinds:
    - the closure of the moved identifiers: every changed identifier (int_identity_changed_identifiers) of the
      previous graph whose component row this build wrote or deleted, or that left the graph, and every
      suppressed identifier still there; every identifier that had the previous id of one of those; every
      member of their current components. Every claimant of such an old id is in it, so the owner, survivor and
      split rules decide as a full build does.
    - every other changed identifier: its component's members kept their rows, so that component keeps its
      customer. An identifier new to the graph carries in the id of the component it joined (read from the
      previous int_customer_ids_resolved), or none when the component is new as well (all its members are
      then new and in the scope, and the id is minted as in a full build).
    Every other component keeps its id. On a full build (--full-refresh, or no int_customer_ids_resolved or
    identity_graph yet) it is every identifier, current or previous. -#}
{%- set previous_graph = cdp.previous_identity_graph() -%}
{%- set resolved_table = none -%}
{%- if execute -%}
    {%- set resolved_table = adapter.get_relation(database=this.database, schema=this.schema, identifier='int_customer_ids_resolved') -%}
{%- endif -%}
{%- set everything = flags.FULL_REFRESH or previous_graph is none or resolved_table is none -%}
{%- set component_changes = cdp.existing_relation('intermediate', 'identity_component_changes') -%}

with

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

{%- if everything %}

scope as (

    select identifier_type, identifier_value from {{ ref('int_identity_nodes') }}
    {%- if previous_graph %}
    union
    select identifier_type, identifier_value from previous
    {%- endif %}

),

{%- else %}

changed as (

    select identifier_type, identifier_value from {{ ref('int_identity_changed_identifiers') }}

),

-- The changed identifiers with their node and component (their own node id when linked to nothing); both null
-- for an identifier that is no node of this build.
changed_nodes as (

    select
        changed.identifier_type,
        changed.identifier_value,
        nodes.node_id,
        coalesce(components.component_id, nodes.node_id) as component_id
    from changed
    left join {{ ref('int_identity_nodes') }} as nodes
        on nodes.identifier_type = changed.identifier_type and nodes.identifier_value = changed.identifier_value
    left join {{ ref('int_identity_components') }} as components on components.node_id = nodes.node_id

),

-- Still nodes, and their component rows were neither written nor deleted (only their node rows changed).
kept_in_place as (

    select
        changed_nodes.identifier_type,
        changed_nodes.identifier_value
    from changed_nodes
    {%- if component_changes %}
    where
        changed_nodes.node_id is not null
        and not exists (select 1 from {{ component_changes }} as moved where moved.node_id = changed_nodes.node_id)
    {%- else %}
    where 1 = 0
    {%- endif %}

),

-- Suppressed identifiers leave the graph (whole components of forgotten customers).
suppressed as (

    select
        suppressions.identifier_type,
        suppressions.identifier_value
    from {{ ref('privacy_suppressions') }} as suppressions
    inner join previous
        on previous.identifier_type = suppressions.identifier_type and previous.identifier_value = suppressions.identifier_value

),

-- Identifiers of the previous graph that moved to another component, left the graph or are suppressed.
seeds as (

    select
        previous.identifier_type,
        previous.identifier_value
    from changed
    inner join previous
        on previous.identifier_type = changed.identifier_type and previous.identifier_value = changed.identifier_value
    where not exists (
        select 1 from kept_in_place
        where kept_in_place.identifier_type = changed.identifier_type and kept_in_place.identifier_value = changed.identifier_value
    )
    union
    select identifier_type, identifier_value from suppressed

),

-- The previous ids of the seeds, and every identifier that had one of them (joined from the seeds' side).
seed_ids as (

    select distinct previous.customer_id
    from previous
    inner join seeds
        on seeds.identifier_type = previous.identifier_type and seeds.identifier_value = previous.identifier_value

),

reached as (

    select identifier_type, identifier_value from seeds
    union
    select identifier_type, identifier_value from previous
    where customer_id in (select customer_id from seed_ids)

),

-- Their current components, whole (an identifier linked to no other is a component of its own).
reached_components as (

    select distinct components.component_id
    from {{ ref('int_identity_components') }} as components
    inner join reached
        on reached.identifier_type = components.identifier_type and reached.identifier_value = components.identifier_value

),

closure as (

    select identifier_type, identifier_value from reached
    union
    select identifier_type, identifier_value from {{ ref('int_identity_components') }}
    where component_id in (select component_id from reached_components)

),

-- The other changed identifiers, each with the component it is in now.
attached as (

    select
        changed_nodes.identifier_type,
        changed_nodes.identifier_value,
        changed_nodes.component_id
    from changed_nodes
    where not exists (
        select 1 from closure
        where closure.identifier_type = changed_nodes.identifier_type and closure.identifier_value = changed_nodes.identifier_value
    )

),

-- The customer each of those components had (one: none of its members moved), read from the ids resolved by the
-- previous build; none for a component new in this build.
component_customers as (

    select
        component_id,
        min(customer_id) as customer_id,
        min(customer_id_minted_at) as customer_id_minted_at
    from {{ resolved_table }}
    where component_id in (select component_id from attached)
    group by component_id

),

{%- endif %}

scoped as (

    {%- if everything %}
    select
        scope.identifier_type,
        scope.identifier_value,
        previous.customer_id as previous_customer_id,
        previous.customer_id_minted_at as previous_customer_id_minted_at
    from scope
    left join previous
        on previous.identifier_type = scope.identifier_type and previous.identifier_value = scope.identifier_value
    {%- else %}
    select
        closure.identifier_type,
        closure.identifier_value,
        previous.customer_id as previous_customer_id,
        previous.customer_id_minted_at as previous_customer_id_minted_at
    from closure
    left join previous
        on previous.identifier_type = closure.identifier_type and previous.identifier_value = closure.identifier_value
    union all
    select
        attached.identifier_type,
        attached.identifier_value,
        coalesce(previous.customer_id, component_customers.customer_id) as previous_customer_id,
        coalesce(previous.customer_id_minted_at, component_customers.customer_id_minted_at) as previous_customer_id_minted_at
    from attached
    left join previous
        on previous.identifier_type = attached.identifier_type and previous.identifier_value = attached.identifier_value
    left join component_customers on component_customers.component_id = attached.component_id
    {%- endif %}

)

select * from scoped
