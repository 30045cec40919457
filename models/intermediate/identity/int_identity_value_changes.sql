{#- The identifier values this build measures for hub detection, with the number of distinct other
    identifiers each is seen with (linked_identifiers): every usable value in a full build (linked_records and
    sample_linked_identifier for the hubs only, the only rows that report them); in an incremental build,
    every value of a changed record (before and after). A value seen with at most its previous count plus the
    identifiers added beside it cannot have crossed its max_linked_identifiers: it keeps that sum as an upper
    bound (exact_count false) and is not measured again; the others, and the previous hubs, are measured
    exactly. is_hub: seen with too many; was_hub: a hub of the previous build. The previous node row comes
    along for int_identity_nodes. -#}
{%- set identity = cdp.identity_config() -%}
{%- set previous_hubs = cdp.existing_relation('intermediate', 'int_identity_hubs') -%}
{%- set previous_nodes = cdp.existing_relation('intermediate', 'int_identity_nodes') -%}
{%- set incremental = cdp.identity_build_mode() == 'incremental' and previous_hubs is not none and previous_nodes is not none -%}
{%- set limits %}
        case changed_values.identifier_type
            {%- for name, rules in identity.identifier_types.items() if rules.max_linked_identifiers is not none %}
            when '{{ name }}' then {{ rules.max_linked_identifiers }}
            {%- endfor %}
        end
{%- endset %}

with

{%- if incremental %}

changes as (

    select * from {{ ref('int_identity_record_changes') }} where change in ('old', 'new')

),

changed_values as (

    select
        identifier_type,
        identifier_value,
        max(case when change = 'old' then 1 else 0 end) as in_old_rows
    from changes
    where identifier_value is not null
    group by identifier_type, identifier_value

),

-- Usable identifiers of the changed records now, and how many others each gains beside it (an upper bound).
added_rows as (

    select distinct source_table, record_id, identifier_type, identifier_value
    from changes
    where change = 'new' and exclusion_reason is null and suppressing_request_id is null

),

added as (

    select
        added_rows.identifier_type,
        added_rows.identifier_value,
        count(*) as added_identifiers
    from added_rows
    inner join added_rows as other
        on
            other.source_table = added_rows.source_table
            and other.record_id = added_rows.record_id
            and (other.identifier_type <> added_rows.identifier_type or other.identifier_value <> added_rows.identifier_value)
    group by added_rows.identifier_type, added_rows.identifier_value

),

-- Sources a value is now seen in that its node did not list.
new_sources as (

    select distinct added_rows.identifier_type, added_rows.identifier_value
    from added_rows
    inner join {{ previous_nodes }} as previous_node
        on previous_node.identifier_type = added_rows.identifier_type and previous_node.identifier_value = added_rows.identifier_value
    where {{ dbt.position(dbt.concat(["','", "added_rows.source_table", "','"]), dbt.concat(["','", "previous_node.sources", "','"])) }} = 0

),

bounded as (

    select
        changed_values.identifier_type,
        changed_values.identifier_value,
        changed_values.in_old_rows = 1 or new_sources.identifier_value is not null as needs_recount,
        previous_node.first_seen_at as previous_first_seen_at,
        previous_node.last_seen_at as previous_last_seen_at,
        previous_node.records as previous_records,
        previous_node.sources as previous_sources,
        coalesce(previous_hub.linked_identifiers, previous_node.linked_identifiers, 0) + coalesce(added.added_identifiers, 0) as bound,
        previous_hub.identifier_value is not null as was_hub,
        {{ limits }} as max_linked_identifiers
    from changed_values
    left join added
        on added.identifier_type = changed_values.identifier_type and added.identifier_value = changed_values.identifier_value
    left join {{ previous_hubs }} as previous_hub
        on previous_hub.identifier_type = changed_values.identifier_type and previous_hub.identifier_value = changed_values.identifier_value
    left join {{ previous_nodes }} as previous_node
        on previous_node.identifier_type = changed_values.identifier_type and previous_node.identifier_value = changed_values.identifier_value
    left join new_sources
        on new_sources.identifier_type = changed_values.identifier_type and new_sources.identifier_value = changed_values.identifier_value

),

measured_values as (

    select identifier_type, identifier_value from bounded where was_hub or bound > max_linked_identifiers

),

measured as (
{{ cdp.identity_linked_counts(identity, 'measured_values') }}

),

final as (

    select
        bounded.identifier_type,
        bounded.identifier_value,
        case when measured_values.identifier_value is null then bounded.bound else coalesce(measured.linked_identifiers, 0) end as linked_identifiers,
        measured.linked_records,
        measured.sample_linked_identifier,
        bounded.max_linked_identifiers,
        measured_values.identifier_value is not null as exact_count,
        bounded.was_hub,
        bounded.needs_recount,
        bounded.previous_first_seen_at,
        bounded.previous_last_seen_at,
        bounded.previous_records,
        bounded.previous_sources
    from bounded
    left join measured_values
        on measured_values.identifier_type = bounded.identifier_type and measured_values.identifier_value = bounded.identifier_value
    left join measured
        on measured.identifier_type = bounded.identifier_type and measured.identifier_value = bounded.identifier_value

)
{%- else %}
-- depends_on: {{ ref('int_identity_record_changes') }}

-- A full build counts every usable value's distinct other identifiers from the distinct pairs of values seen on
-- one record (a value twice on a record pairs with itself only, which is left out, so the rows need no
-- deduplication first). Each pair is taken once, the smaller (type, value) first, and counted for both of its
-- values: the same counts as from both orders, with half the rows to join and deduplicate. Only hubs report
-- their records and a sample (int_identity_hubs), so only they are measured for those.
usable as (

    select source_table, record_id, identifier_type, identifier_value
    from {{ ref('int_identifiers_validated') }}
    where exclusion_reason is null and suppressing_request_id is null

),

linked_pairs as (

    select distinct
        identifier.identifier_type,
        identifier.identifier_value,
        other.identifier_type as other_type,
        other.identifier_value as other_value
    from usable as identifier
    inner join usable as other
        on
            other.source_table = identifier.source_table
            and other.record_id = identifier.record_id
            and (
                other.identifier_type > identifier.identifier_type
                or (other.identifier_type = identifier.identifier_type and other.identifier_value > identifier.identifier_value)
            )

),

pair_ends as (

    select identifier_type, identifier_value from linked_pairs
    union all
    select other_type, other_value from linked_pairs

),

linked as (

    select
        identifier_type,
        identifier_value,
        count(*) as linked_identifiers,
        {{ limits | replace('changed_values.', '') }} as max_linked_identifiers
    from pair_ends
    group by identifier_type, identifier_value

),

hub_values as (

    select identifier_type, identifier_value from linked where linked_identifiers > max_linked_identifiers

),

hub_counts as (
{{ cdp.identity_linked_counts(identity, 'hub_values') }}

),

final as (

    select
        linked.identifier_type,
        linked.identifier_value,
        linked.linked_identifiers,
        hub_counts.linked_records,
        hub_counts.sample_linked_identifier,
        linked.max_linked_identifiers,
        true as exact_count,
        false as was_hub,
        true as needs_recount,
        cast(null as {{ dbt.type_timestamp() }}) as previous_first_seen_at,
        cast(null as {{ dbt.type_timestamp() }}) as previous_last_seen_at,
        cast(null as {{ dbt.type_bigint() }}) as previous_records,
        cast(null as {{ dbt.type_string() }}) as previous_sources
    from linked
    left join hub_counts
        on hub_counts.identifier_type = linked.identifier_type and hub_counts.identifier_value = linked.identifier_value

)
{%- endif %}

select
    identifier_type,
    identifier_value,
    cast(linked_identifiers as {{ dbt.type_bigint() }}) as linked_identifiers,
    cast(linked_records as {{ dbt.type_bigint() }}) as linked_records,
    sample_linked_identifier,
    max_linked_identifiers,
    exact_count,
    coalesce(linked_identifiers > max_linked_identifiers, false) as is_hub,
    was_hub,
    -- For the node row: whether it is counted again from every record (a row of it changed or left, it
    -- became or stopped being a hub, or it is seen in a new source) or its previous row, if any, merged with
    -- the rows added (a value with no node row and no hub status to lose had no usable row before this build).
    needs_recount or coalesce(linked_identifiers > max_linked_identifiers, false) <> was_hub as needs_recount,
    previous_first_seen_at,
    previous_last_seen_at,
    previous_records,
    previous_sources
from final
