{#- SQL: per usable identifier value, how many distinct other identifiers and records it is seen with
    (hub detection), limited to the values in `values` (identifier_type, identifier_value) when given. -#}
{% macro identity_linked_counts(identity, values=none) -%}
with

{%- if values %}

-- The usable rows of the measured values, and every usable row of the records carrying one.
measured as (

    select distinct validated.source_table, validated.record_id, validated.identifier_type, validated.identifier_value
    from {{ ref('int_identifiers_validated') }} as validated
    inner join {{ values }} as measured_value
        on measured_value.identifier_type = validated.identifier_type and measured_value.identifier_value = validated.identifier_value
    where validated.exclusion_reason is null and validated.suppressing_request_id is null

),

usable as (

    select distinct validated.source_table, validated.record_id, validated.identifier_type, validated.identifier_value
    from {{ ref('int_identifiers_validated') }} as validated
    where
        validated.exclusion_reason is null and validated.suppressing_request_id is null
        and exists (
            select 1 from measured
            where measured.source_table = validated.source_table and measured.record_id = validated.record_id
        )

),
{%- else %}

usable as (

    select distinct source_table, record_id, identifier_type, identifier_value
    from {{ ref('int_identifiers_validated') }}
    where exclusion_reason is null and suppressing_request_id is null

),

measured as (

    select * from usable

),
{%- endif %}

co_occurring as (

    select
        identifier.identifier_type,
        identifier.identifier_value,
        other.identifier_type as other_type,
        other.identifier_value as other_value,
        identifier.source_table,
        identifier.record_id
    from measured as identifier
    inner join usable as other
        on {{ cdp.another_identifier_of_the_record('identifier', 'other') }}

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

)

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
{%- endmacro %}

{#- The join condition of two identifier rows that link (hub counts): `other` is another identifier (type or
    value differs) on the same record as `identifier`. -#}
{% macro another_identifier_of_the_record(identifier, other) -%}
    {{ other }}.source_table = {{ identifier }}.source_table
    and {{ other }}.record_id = {{ identifier }}.record_id
    and ({{ other }}.identifier_type <> {{ identifier }}.identifier_type or {{ other }}.identifier_value <> {{ identifier }}.identifier_value)
{%- endmacro %}
