{#- SQL validating identifier rows (source_table, record_id, identifier_type, identifier_value_raw,
    observed_at, changed_at, read from `identifiers`): each value normalized per type, with the reason it is excluded
    (null when usable). A value in the suppression list of earlier builds (privacy_suppressions) is excluded
    as 'suppressed (privacy request <id>)', and every identifier of a record carrying one is left out of
    resolution too (suppressing_request_id): the record belongs to a forgotten customer and links nobody.
    Records are validated whole: a record's rows are all in `identifiers` or none are. Each distinct raw value
    of a type is normalized and checked once (rows repeat values: the same anonymous id or email on many
    events), then joined back to its rows. -#}
{% macro identity_validate(identifiers, identity) -%}
    {%- set suppressions = cdp.previous_privacy_suppressions() -%}
with

distinct_values as (

    select distinct identifier_type, identifier_value_raw
    from {{ identifiers }}

),

normalized as (

    select
        identifier_type,
        identifier_value_raw,
        case
            {%- for name, rules in identity.identifier_types.items() %}
            when identifier_type = '{{ name }}' then {{ cdp.normalize_identifier('identifier_value_raw', rules) }}
            {%- endfor %}
        end as identifier_value
    from distinct_values

),

validated_values as (

    select
        *,
        case
            {#- Null exactly when the value is; named in this first condition, which is always evaluated, so an
                engine that shares common subexpressions (DuckDB) lower-cases each value once for the checks below. #}
            when lower(identifier_value) is null then 'empty'
            {%- for name, rules in identity.identifier_types.items() %}
            {%- if rules.blocklist %}
            when identifier_type = '{{ name }}' and lower(identifier_value) in (
                {%- for value in rules.blocklist %}'{{ value | replace("'", "''") }}'{% if not loop.last %}, {% endif %}{% endfor -%}
            ) then 'blocklisted'
            {%- endif %}
            {%- for pattern in rules.blocklist_regex %}
            when identifier_type = '{{ name }}' and {{ cdp.regexp_matches('lower(identifier_value)', "'" ~ pattern | replace("'", "''") ~ "'") }}
                then 'blocklisted'
            {%- endfor %}
            {%- if rules.valid_regex %}
            when identifier_type = '{{ name }}' and not {{ cdp.regexp_matches('identifier_value', "'" ~ rules.valid_regex | replace("'", "''") ~ "'") }}
                then 'invalid'
            {%- endif %}
            {%- endfor %}
        end as exclusion_reason
    from normalized

),

{#- identifier_type and identifier_value_raw are never null (identity_source_rows): an inner join keeps every row. #}
validated as (

    select
        identifier_row.source_table,
        identifier_row.record_id,
        identifier_row.identifier_type,
        identifier_row.identifier_value_raw,
        identifier_row.observed_at,
        identifier_row.changed_at,
        validated_values.identifier_value,
        validated_values.exclusion_reason
    from {{ identifiers }} as identifier_row
    inner join validated_values
        on
            validated_values.identifier_type = identifier_row.identifier_type
            and validated_values.identifier_value_raw = identifier_row.identifier_value_raw

),

{#- No suppression list yet (a first build): nothing is suppressed, and the validated rows are read once. #}
{%- if not suppressions %}

final as (

    select
        source_table,
        record_id,
        identifier_type,
        identifier_value_raw,
        observed_at,
        identifier_value,
        exclusion_reason,
        cast(null as {{ dbt.type_string() }}) as suppressing_request_id,
        changed_at
    from validated

)
{%- else %}

suppressions as (

    select identifier_type, identifier_value, privacy_request_id from {{ suppressions }}

),

suppressed_records as (

    select
        validated.source_table,
        validated.record_id,
        min(suppressions.privacy_request_id) as suppressing_request_id
    from validated
    inner join suppressions
        on suppressions.identifier_type = validated.identifier_type and suppressions.identifier_value = validated.identifier_value
    where validated.exclusion_reason is null
    group by validated.source_table, validated.record_id

),

final as (

    select
        validated.source_table,
        validated.record_id,
        validated.identifier_type,
        validated.identifier_value_raw,
        validated.observed_at,
        validated.identifier_value,
        coalesce(
            validated.exclusion_reason,
            case
                when suppressions.privacy_request_id is not null
                    then {{ dbt.concat(["'suppressed (privacy request '", 'suppressions.privacy_request_id', "')'"]) }}
            end
        ) as exclusion_reason,
        suppressed_records.suppressing_request_id,
        validated.changed_at
    from validated
    left join suppressions
        on suppressions.identifier_type = validated.identifier_type and suppressions.identifier_value = validated.identifier_value
    left join suppressed_records
        on suppressed_records.source_table = validated.source_table and suppressed_records.record_id = validated.record_id

)
{%- endif %}

select * from final
{%- endmacro %}
