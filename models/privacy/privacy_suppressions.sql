{{ config(materialized='incremental', full_refresh=false, unique_key=['identifier_type', 'identifier_value'], incremental_strategy='delete+insert', on_schema_change='append_new_columns') }}
-- depends_on: {{ ref('int_identity_changed_records') }}
{%- set previous_graph = cdp.previous_identity_graph() -%}

-- Every identifier of a customer who asked to be forgotten: the whole connected component of the deletion
-- request's record, read from the connected components before any customer id is given, so the identity
-- layer (int_customer_ids_resolved, identity_records) can leave it out in the same build. Kept across
-- --full-refresh; later builds exclude these identifiers before resolution (int_identifiers_validated), so a
-- replay of old events (or a late one) re-creates and re-links nobody.
with

deletion_requests as (

    select
        privacy_request_id,
        requested_at
    from {{ ref('stg_privacy__requests') }}
    where request_type = 'deletion'{% if not cdp.privacy_requests_to_apply() %} and 1 = 0{% endif %}

),

-- The strongest identifier (anchor) of each request's record names its component; an identifier never seen
-- with another one is a component of its own (its node id).
request_anchors as (

    select
        deletion_requests.privacy_request_id,
        deletion_requests.requested_at,
        anchors.node_id,
        anchors.identifier_type,
        anchors.identifier_value,
        coalesce(components.component_id, anchors.node_id) as component_id
    from deletion_requests
    inner join {{ ref('int_identity_record_anchors') }} as anchors
        on
            anchors.source_table = 'stg_privacy__requests'
            and deletion_requests.privacy_request_id = anchors.record_id
            and anchors.rank_in_record = 1
    left join {{ ref('int_identity_components') }} as components on anchors.node_id = components.node_id

),

requesting_components as (

    select
        min(privacy_request_id) as privacy_request_id,
        min(requested_at) as requested_at,
        component_id
    from request_anchors
    group by component_id

),

previous as (

    {%- if previous_graph %}
        select
            identifier_type,
            identifier_value,
            customer_id
        from {{ previous_graph }}
    {%- else %}
        select
            cast(null as {{ dbt.type_string() }}) as identifier_type,
            cast(null as {{ dbt.type_string() }}) as identifier_value,
            cast(null as {{ dbt.type_string() }}) as customer_id
        where 1 = 0
    {%- endif %}

),

-- Every identifier of those components: the linked ones, and an anchor that is a component of its own.
component_members as (

    select
        components.identifier_type,
        components.identifier_value,
        components.component_id
    from {{ ref('int_identity_components') }} as components
    where components.component_id in (select component_id from requesting_components)
    union
    select
        identifier_type,
        identifier_value,
        component_id
    from request_anchors
    where node_id = component_id

),

members as (

    select
        component_members.identifier_type,
        component_members.identifier_value,
        component_members.component_id,
        requesting_components.privacy_request_id,
        requesting_components.requested_at,
        previous.customer_id as previous_customer_id
    from requesting_components
    inner join component_members on requesting_components.component_id = component_members.component_id
    left join previous
        on component_members.identifier_type = previous.identifier_type and component_members.identifier_value = previous.identifier_value

),

previous_counts as (

    select
        component_id,
        previous_customer_id,
        count(*) as identifiers
    from members
    where previous_customer_id is not null
    group by component_id, previous_customer_id

),

previous_owners as (

    select * from (
        select
            *,
            row_number() over (partition by component_id order by identifiers desc, previous_customer_id asc) as owner_rank
        from previous_counts
    ) as ranked_owners
    where owner_rank = 1

),

component_keys as (

    select
        component_id,
        min({{ dbt.concat(['identifier_type', "':'", 'identifier_value']) }}) as first_identifier
    from members
    group by component_id

),

-- The id the forgotten customer had (the previous id of most of its identifiers), or, when it never had one,
-- the id the component would have been minted (the same derivation as int_customer_ids_resolved).
component_customers as (

    select
        component_keys.component_id,
        coalesce(previous_owners.previous_customer_id, {{ cdp.mint_customer_id('component_keys.first_identifier') }}) as customer_id
    from component_keys
    left join previous_owners on component_keys.component_id = previous_owners.component_id

),

identifiers as (

    select
        members.identifier_type,
        members.identifier_value,
        members.privacy_request_id,
        members.requested_at,
        -- Each identifier keeps the id it had, so every id a forgotten person was known by is suppressed.
        coalesce(members.previous_customer_id, component_customers.customer_id) as customer_id
    from members
    inner join component_customers on members.component_id = component_customers.component_id

),

new_suppressions as (

    select
        identifier_type,
        identifier_value,
        privacy_request_id,
        requested_at,
        {{ cdp.run_started_at_timestamp() }} as suppressed_at,
        customer_id
    from identifiers
    {%- if is_incremental() %}
        where not exists (
            select 1 from {{ this }} as already
            where already.identifier_type = identifiers.identifier_type and already.identifier_value = identifiers.identifier_value
        )
    {%- endif %}

),

-- Suppressions recorded before this table had a customer_id (and before the identity layer applied them) are
-- still in the previous identity_graph: they get the id they have there, once. Later builds never leave a
-- suppressed identifier in the graph, so this finds nothing again.
backfilled as (

    {%- if is_incremental() %}
        select
            already.identifier_type,
            already.identifier_value,
            already.privacy_request_id,
            already.requested_at,
            already.suppressed_at,
            previous.customer_id
        from {{ this }} as already
        inner join previous
            on already.identifier_type = previous.identifier_type and already.identifier_value = previous.identifier_value
        -- Only those rows lack a customer id (a suppression recorded since has one and is in no graph).
        where already.customer_id is null{% if not cdp.privacy_rows_to_backfill() %} and 1 = 0{% endif %}
    {%- else %}
        select * from new_suppressions
        where 1 = 0
    {%- endif %}

),

suppressions as (

    select * from new_suppressions
    union all
    select * from backfilled

)

select
    cast(identifier_type as {{ dbt.type_string() }}) as identifier_type,
    cast(identifier_value as {{ dbt.type_string() }}) as identifier_value,
    cast(privacy_request_id as {{ dbt.type_string() }}) as privacy_request_id,
    cast(requested_at as {{ dbt.type_timestamp() }}) as requested_at,
    cast(suppressed_at as {{ dbt.type_timestamp() }}) as suppressed_at,
    cast(customer_id as {{ dbt.type_string() }}) as customer_id
from suppressions
