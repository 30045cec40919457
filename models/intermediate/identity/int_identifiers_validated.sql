{#- Identifier values normalized per type, each with the reason it is excluded (null when it is usable). -#}
{%- set identity = cdp.identity_config() -%}

with

identifiers as (

    select * from {{ ref('int_identifiers_unioned') }}

),

normalized as (

    select
        source_table,
        record_id,
        identifier_type,
        identifier_value_raw,
        observed_at,
        case
            {%- for name, rules in identity.identifier_types.items() %}
            when identifier_type = '{{ name }}' then {{ cdp.normalize_identifier('identifier_value_raw', rules) }}
            {%- endfor %}
        end as identifier_value
    from identifiers

),

validated as (

    select
        *,
        case
            when identifier_value is null then 'empty'
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

)

select * from validated
