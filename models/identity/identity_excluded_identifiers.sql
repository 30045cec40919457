{{ config(
    materialized='incremental',
    on_schema_change='append_new_columns',
    incremental_strategy='delete+insert',
    unique_key=['identifier_type', 'identifier_value', 'exclusion_reason'],
    pre_hook="{{ cdp.delete_changed_keys(ref('int_identity_changed_identifiers'), ['identifier_type', 'identifier_value'], nullable_column='identifier_value') }}",
    post_hook="{{ cdp.identity_step_done() }}",
) }}
-- depends_on: {{ ref('int_identity_changed_identifiers') }}
{# Every identifier value kept out of the graph, and why: empty, blocklisted, invalid (failed its type's
    valid_regex), hub (seen with too many other identifiers) or 'suppressed (privacy request <id>)' (an
    identifier of a customer who asked to be forgotten). Nothing is dropped silently. -#}
{#- Incremental: the rows of the changed identifiers (int_identity_changed_identifiers, deleted first by the
    pre-hook) and of the identifiers suppressed by this build are computed again. -#}
with

{%- if is_incremental() %}

    scope as (

        select
            identifier_type,
            identifier_value
        from {{ ref('int_identity_changed_identifiers') }}

    ),

    -- The excluded rows of those identifiers; an empty value (null) is matched on its own, so both joins hash.
    excluded_rows as (

        select validated.*
        from {{ ref('int_identifiers_validated') }} as validated
        inner join scope
            on validated.identifier_type = scope.identifier_type and validated.identifier_value = scope.identifier_value
        where validated.exclusion_reason is not null
        union all
        select validated.*
        from {{ ref('int_identifiers_validated') }} as validated
        where
            validated.identifier_value is null
            and validated.exclusion_reason is not null
            and validated.identifier_type in (
                select identifier_type from scope
                where identifier_value is null
            )

    ),

    hub_identifiers as (

        select hubs.*
        from {{ ref('int_identity_hubs') }} as hubs
        inner join scope on hubs.identifier_type = scope.identifier_type and hubs.identifier_value = scope.identifier_value

    ),

{%- else %}

    excluded_rows as (

        select * from {{ ref('int_identifiers_validated') }}
        where exclusion_reason is not null

    ),

    hub_identifiers as (

        select * from {{ ref('int_identity_hubs') }}

    ),

{%- endif %}

rejected as (

    select
        identifier_type,
        identifier_value,
        exclusion_reason,
        count(*) as records,
        count(distinct identifier_value_raw) as raw_spellings,
        min(identifier_value_raw) as sample_raw_value,
        min({{ dbt.concat(['source_table', "':'", 'record_id']) }}) as sample_record
    from excluded_rows
    group by identifier_type, identifier_value, exclusion_reason

),

-- Suppressed by this build (earlier builds' suppressions already carry their reason in rejected: a value is
-- usable in int_identifiers_validated only until the build after the one that suppresses it).
newly_suppressed as (

    select
        validated.identifier_type,
        validated.identifier_value,
        {{ dbt.concat(["'suppressed (privacy request '", 'suppressions.privacy_request_id', "')'"]) }} as exclusion_reason,
        count(*) as records,
        count(distinct validated.identifier_value_raw) as raw_spellings,
        min(validated.identifier_value_raw) as sample_raw_value,
        min({{ dbt.concat(['validated.source_table', "':'", 'validated.record_id']) }}) as sample_record
    {{ cdp.identity_rows_suppressed_by_this_build() }}
    group by validated.identifier_type, validated.identifier_value, suppressions.privacy_request_id

),

hubs as (

    select
        identifier_type,
        identifier_value,
        'hub' as exclusion_reason,
        linked_records as records,
        linked_identifiers as raw_spellings,
        sample_linked_identifier as sample_raw_value,
        cast(null as {{ dbt.type_string() }}) as sample_record
    from hub_identifiers

),

excluded as (

    select
        identifier_type,
        identifier_value,
        exclusion_reason,
        records,
        raw_spellings,
        sample_raw_value,
        sample_record,
        cast(null as {{ dbt.type_bigint() }}) as linked_identifiers
    from rejected
    union all
    select
        identifier_type,
        identifier_value,
        exclusion_reason,
        records,
        raw_spellings,
        sample_raw_value,
        sample_record,
        cast(null as {{ dbt.type_bigint() }}) as linked_identifiers
    from newly_suppressed
    union all
    select
        identifier_type,
        identifier_value,
        exclusion_reason,
        records,
        null as raw_spellings,
        sample_raw_value,
        sample_record,
        raw_spellings as linked_identifiers
    from hubs

)

select * from excluded
