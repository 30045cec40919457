{#- Identifier values seen with more distinct other identifiers than their type's max_linked_identifiers:
    placeholders that slipped past the blocklists (a shared test card, a broken cookie). They are excluded
    from the graph and reported with their size, a sample and the reason. -#}
{%- set identity = cdp.identity_config() -%}

with

usable as (

    select distinct source_table, record_id, identifier_type, identifier_value
    from {{ ref('int_identifiers_validated') }}
    where exclusion_reason is null and suppressing_request_id is null

),

co_occurring as (

    select
        identifier.identifier_type,
        identifier.identifier_value,
        other.identifier_type as other_type,
        other.identifier_value as other_value,
        identifier.source_table,
        identifier.record_id
    from usable as identifier
    inner join usable as other
        on
            other.source_table = identifier.source_table
            and other.record_id = identifier.record_id
            and (other.identifier_type <> identifier.identifier_type or other.identifier_value <> identifier.identifier_value)

),

linked as (

    select
        identifier_type,
        identifier_value,
        count(distinct {{ dbt.concat(['other_type', "':'", 'other_value']) }}) as linked_identifiers,
        count(distinct {{ dbt.concat(['source_table', "':'", 'record_id']) }}) as linked_records,
        min({{ dbt.concat(['other_type', "':'", 'other_value']) }}) as sample_linked_identifier
    from co_occurring
    group by identifier_type, identifier_value

),

hubs as (

    select
        identifier_type,
        identifier_value,
        linked_identifiers,
        linked_records,
        sample_linked_identifier,
        case identifier_type
            {%- for name, rules in identity.identifier_types.items() if rules.max_linked_identifiers is not none %}
            when '{{ name }}' then {{ rules.max_linked_identifiers }}
            {%- endfor %}
        end as max_linked_identifiers
    from linked

)

select * from hubs
where linked_identifiers > max_linked_identifiers
