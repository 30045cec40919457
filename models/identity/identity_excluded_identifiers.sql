{#- Every identifier value kept out of the graph, and why: empty, blocklisted, invalid (failed its type's
    valid_regex) or hub (seen with too many other identifiers). Nothing is dropped silently. -#}
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
        null as raw_spellings,
        sample_raw_value,
        sample_record,
        raw_spellings as linked_identifiers
    from hubs

)

select * from excluded
