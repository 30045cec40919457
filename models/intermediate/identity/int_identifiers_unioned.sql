{#- One row per (record, identifier) from every source listed in vars.cdp_identity.sources. -#}
{%- set identity = cdp.identity_config() -%}

with

{% for source in identity.sources %}
{%- set source_index = loop.index0 -%}
{%- if execute -%}
    {%- set available = adapter.get_columns_in_relation(ref(source.model)) | map(attribute='name') | map('lower') | list -%}
    {%- if available | length == 0 -%}
        {{ exceptions.raise_compiler_error("dbt_project.yml: vars.cdp_identity.sources[" ~ source_index ~ "]: " ~ source.model ~ " has not been built (or has no columns); build it first") }}
    {%- endif -%}
    {%- for column in [source.record_id, source.observed_at] + (source.identifiers.keys() | list) -%}
        {%- if column | lower not in available -%}
            {{ exceptions.raise_compiler_error("dbt_project.yml: vars.cdp_identity.sources[" ~ source_index ~ "] (" ~ source.model ~ "): column '" ~ column ~ "' does not exist in " ~ source.model ~ "; it has " ~ available | join(', ')) }}
        {%- endif -%}
    {%- endfor -%}
{%- endif %}
{{ source.model }}_identifiers as (
    {%- for column, identifier_type in source.identifiers.items() %}

    select
        '{{ source.model }}' as source_table,
        cast({{ source.record_id }} as {{ dbt.type_string() }}) as record_id,
        '{{ identifier_type }}' as identifier_type,
        cast({{ column }} as {{ dbt.type_string() }}) as identifier_value_raw,
        cast({{ source.observed_at }} as {{ dbt.type_timestamp() }}) as observed_at
    from {{ ref(source.model) }}
    where {{ column }} is not null
    {% if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

{% endfor %}
unioned as (
    {%- for source in identity.sources %}

    select * from {{ source.model }}_identifiers
    {% if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

)

select * from unioned
