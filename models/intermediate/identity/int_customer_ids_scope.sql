-- depends_on: {{ ref('int_identity_changed_identifiers') }} {{ ref('privacy_suppressions') }} {{ ref('int_identity_components') }}
{# The identifiers whose customer id this build resolves again, each with the id (and mint time) it had in the
    previous identity_graph: every changed identifier (int_identity_changed_identifiers) and every suppressed
    identifier still in the previous graph, every identifier that had the previous id of one of those, and every
    member of their current components. Every claimant of an old id is in it, so the owner, survivor and split
    rules decide as a full build does, and every other component keeps its id. On a full build (--full-refresh,
    or no int_customer_ids_resolved or identity_graph yet) it is every identifier, current or previous. -#}
{%- set previous_graph = cdp.previous_identity_graph() -%}
{%- set resolved_table = none -%}
{%- if execute -%}
    {%- set resolved_table = adapter.get_relation(database=this.database, schema=this.schema, identifier='int_customer_ids_resolved') -%}
{%- endif -%}
{%- set everything = flags.FULL_REFRESH or previous_graph is none or resolved_table is none -%}

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
    union
    select identifier_type, identifier_value from previous

),

{%- else %}

changed as (

    select identifier_type, identifier_value from {{ ref('int_identity_changed_identifiers') }}

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

seeds as (

    select identifier_type, identifier_value from changed
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

scope as (

    select identifier_type, identifier_value from reached
    union
    select identifier_type, identifier_value from {{ ref('int_identity_components') }}
    where component_id in (select component_id from reached_components)

),

{%- endif %}

scoped as (

    select
        scope.identifier_type,
        scope.identifier_value,
        previous.customer_id as previous_customer_id,
        previous.customer_id_minted_at as previous_customer_id_minted_at
    from scope
    left join previous
        on previous.identifier_type = scope.identifier_type and previous.identifier_value = scope.identifier_value

)

select * from scoped
