{#- Every identifier value kept out of the graph, and why: empty, blocklisted, invalid (failed its type's
    valid_regex), hub (seen with too many other identifiers) or 'suppressed (privacy request <id>)' (an
    identifier of a customer who asked to be forgotten). Nothing is dropped silently. -#}
with

rejected as (

    select
        identifier_type,
        identifier_value,
        exclusion_reason,
        count(*) as records,
        count(distinct identifier_value_raw) as raw_spellings,
        min(identifier_value_raw) as sample_raw_value,
        min({{ dbt.concat(['source_table', "':'", 'record_id']) }}) as sample_record
    from {{ ref('int_identifiers_validated') }}
    where exclusion_reason is not null
    group by identifier_type, identifier_value, exclusion_reason

),

-- Suppressed by this build (earlier builds' suppressions already carry their reason in rejected).
newly_suppressed as (

    select
        validated.identifier_type,
        validated.identifier_value,
        {{ dbt.concat(["'suppressed (privacy request '", 'suppressions.privacy_request_id', "')'"]) }} as exclusion_reason,
        count(*) as records,
        count(distinct validated.identifier_value_raw) as raw_spellings,
        min(validated.identifier_value_raw) as sample_raw_value,
        min({{ dbt.concat(['validated.source_table', "':'", 'validated.record_id']) }}) as sample_record
    from {{ ref('int_identifiers_validated') }} as validated
    inner join {{ ref('privacy_suppressions') }} as suppressions
        on validated.identifier_type = suppressions.identifier_type and validated.identifier_value = suppressions.identifier_value
    where validated.exclusion_reason is null
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
    from {{ ref('int_identity_hubs') }}

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
