{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ cdp.identity_delete_changed(ref('int_identity_value_changes'), ['identifier_type', 'identifier_value']) }}",
    post_hook="{{ cdp.identity_step_done() }}",
) }}
{#- Every usable identifier value once, with its integer id for the graph algorithms (from the node registry,
    int_identity_node_ids: an identifier keeps its id from build to build). Incremental: the rows of the values
    a build touches (int_identity_value_changes) are written again: counted again from every record when a
    row of theirs changed or left, else their previous row merged with the rows added. -#}
{%- set identity = cdp.identity_config() -%}
{%- set incremental = cdp.identity_applies_changes() -%}
-- depends_on: {{ ref('int_identity_record_changes') }}

with

usable as (

    select validated.*
    from {{ ref('int_identifiers_validated') }} as validated
    left join {{ ref('int_identity_hubs') }} as hubs
        on hubs.identifier_type = validated.identifier_type and hubs.identifier_value = validated.identifier_value
    where
        validated.exclusion_reason is null and validated.suppressing_request_id is null and hubs.identifier_value is null
        {%- if incremental %}
        and exists (
            select 1 from {{ ref('int_identity_value_changes') }} as changed
            where
                changed.identifier_type = validated.identifier_type and changed.identifier_value = validated.identifier_value
                and changed.needs_recount
        )
        {%- endif %}

),

-- One pass over the rows: per value and source, then per value (its sources listed once each).
per_source as (

    select
        identifier_type,
        identifier_value,
        source_table,
        min(observed_at) as first_seen_at,
        max(observed_at) as last_seen_at,
        count(*) as records
    from usable
    group by identifier_type, identifier_value, source_table

),

per_identifier as (

    select
        identifier_type,
        identifier_value,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        cast(sum(records) as {{ dbt.type_bigint() }}) as records,
        {{ cdp.sorted_listagg('source_table', "','") }} as sources
    from per_source
    group by identifier_type, identifier_value

),
{%- if incremental %}

-- Values that only gained rows, in sources their node lists already (or first seen in this build): the
-- previous row, if any, plus the rows added.
merged as (

    select
        changed.identifier_type,
        changed.identifier_value,
        min(case when added.observed_at < changed.previous_first_seen_at or changed.previous_first_seen_at is null then added.observed_at else changed.previous_first_seen_at end) as first_seen_at,
        max(case when added.observed_at > changed.previous_last_seen_at or changed.previous_last_seen_at is null then added.observed_at else changed.previous_last_seen_at end) as last_seen_at,
        coalesce(max(changed.previous_records), 0) + count(added.record_id) as records,
        max(changed.previous_sources) as sources
    from {{ ref('int_identity_value_changes') }} as changed
    left join {{ ref('int_identity_record_changes') }} as added
        on
            added.identifier_type = changed.identifier_type and added.identifier_value = changed.identifier_value
            and added.change = 'new' and added.exclusion_reason is null and added.suppressing_request_id is null
    where not changed.needs_recount and not changed.is_hub
    group by changed.identifier_type, changed.identifier_value
    having coalesce(max(changed.previous_records), 0) + count(added.record_id) > 0

),

-- The sources of the values first seen in this build: those of the rows added.
first_sources as (

    select
        identifier_type,
        identifier_value,
        {{ cdp.sorted_listagg('source_table', "','") }} as sources
    from (
        select distinct
            added.identifier_type,
            added.identifier_value,
            added.source_table
        from {{ ref('int_identity_value_changes') }} as changed
        inner join {{ ref('int_identity_record_changes') }} as added
            on
                added.identifier_type = changed.identifier_type and added.identifier_value = changed.identifier_value
                and added.change = 'new' and added.exclusion_reason is null and added.suppressing_request_id is null
        where not changed.needs_recount and not changed.is_hub and changed.previous_sources is null
    ) as first_source
    group by identifier_type, identifier_value

),

counted as (

    select * from per_identifier
    union all
    select
        merged.identifier_type,
        merged.identifier_value,
        merged.first_seen_at,
        merged.last_seen_at,
        merged.records,
        coalesce(merged.sources, first_sources.sources) as sources
    from merged
    left join first_sources
        on first_sources.identifier_type = merged.identifier_type and first_sources.identifier_value = merged.identifier_value

),
{%- else %}

counted as (

    select * from per_identifier

),
{%- endif %}

numbered as (

    select
        node_ids.node_id,
        counted.identifier_type,
        counted.identifier_value,
        case counted.identifier_type
            {%- for name, rules in identity.identifier_types.items() %}
            when '{{ name }}' then {{ rules.priority }}
            {%- endfor %}
        end as priority,
        counted.first_seen_at,
        counted.last_seen_at,
        counted.records,
        counted.sources,
        -- Distinct other identifiers seen with it (an upper bound after an incremental build; see
        -- int_identity_value_changes).
        coalesce(measured.linked_identifiers, 0) as linked_identifiers
    from counted
    inner join {{ ref('int_identity_node_ids') }} as node_ids
        on node_ids.identifier_type = counted.identifier_type and node_ids.identifier_value = counted.identifier_value
    left join {{ ref('int_identity_value_changes') }} as measured
        on measured.identifier_type = counted.identifier_type and measured.identifier_value = counted.identifier_value

)

select * from numbered
