{#- Every usable identifier value once, with its integer id for the graph algorithms (from the node registry,
    int_identity_node_ids: an identifier keeps its id from build to build). -#}
{%- set identity = cdp.identity_config() -%}

with

usable as (

    select validated.*
    from {{ ref('int_identifiers_validated') }} as validated
    left join {{ ref('int_identity_hubs') }} as hubs
        on hubs.identifier_type = validated.identifier_type and hubs.identifier_value = validated.identifier_value
    where validated.exclusion_reason is null and validated.suppressing_request_id is null and hubs.identifier_value is null

),

per_identifier as (

    select
        identifier_type,
        identifier_value,
        min(observed_at) as first_seen_at,
        max(observed_at) as last_seen_at,
        count(*) as records
    from usable
    group by identifier_type, identifier_value

),

per_source as (

    select distinct identifier_type, identifier_value, source_table from usable

),

sources as (

    select
        identifier_type,
        identifier_value,
        {{ dbt.listagg('source_table', "','", "order by source_table") }} as sources
    from per_source
    group by identifier_type, identifier_value

),

numbered as (

    select
        node_ids.node_id,
        per_identifier.identifier_type,
        per_identifier.identifier_value,
        case per_identifier.identifier_type
            {%- for name, rules in identity.identifier_types.items() %}
            when '{{ name }}' then {{ rules.priority }}
            {%- endfor %}
        end as priority,
        per_identifier.first_seen_at,
        per_identifier.last_seen_at,
        per_identifier.records,
        sources.sources
    from per_identifier
    inner join sources
        on sources.identifier_type = per_identifier.identifier_type and sources.identifier_value = per_identifier.identifier_value
    inner join {{ ref('int_identity_node_ids') }} as node_ids
        on node_ids.identifier_type = per_identifier.identifier_type and node_ids.identifier_value = per_identifier.identifier_value

)

select * from numbered
