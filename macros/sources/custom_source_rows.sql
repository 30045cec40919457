{#- One configured raw table (an entry of cdp.custom_sources()) normalized into the columns of
    stg_custom__records: ids prefixed by the source name, emails and phones normalized like every staging model,
    identifier types the table does not map as nulls. The table and every mapped column must exist: else a
    compile error naming the key. -#}
{% macro custom_source_rows(table) -%}
    {{ return(adapter.dispatch('custom_source_rows', 'cdp')(table)) }}
{%- endmacro %}

{% macro default__custom_source_rows(table) -%}
    {%- if execute -%}
        {%- set present = adapter.get_columns_in_relation(table.relation) | map(attribute='name') | map('lower') | list -%}
        {%- if present | length == 0 -%}
            {{ exceptions.raise_compiler_error(table.key ~ ": table " ~ table.relation ~ " does not exist") }}
        {%- endif -%}
        {%- for column in [table.record_id, table.loaded_at, table.observed_at] + (table.identifiers.values() | list) -%}
            {%- if column | lower not in present -%}
                {{ exceptions.raise_compiler_error(table.key ~ ": column '" ~ column ~ "' does not exist in " ~ table.relation ~ "; it has " ~ present | join(', ')) }}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set ids = table.identifiers -%}
    {%- set text = dbt.type_string() -%}
    select
        cast({{ dbt.concat(["'" ~ table.name ~ ":'", "cast(" ~ adapter.quote(table.record_id) ~ " as " ~ text ~ ")"]) }} as {{ text }}) as custom_record_id,
        cast('{{ table.name }}' as {{ text }}) as source_name,
        {{ cdp.clean_string(adapter.quote(ids.user_id)) if ids.user_id else "cast(null as " ~ text ~ ")" }} as user_id,
        {{ "cast(" ~ adapter.quote(ids.email) ~ " as " ~ text ~ ")" if ids.email else "cast(null as " ~ text ~ ")" }} as email_raw,
        {{ cdp.normalize_email(adapter.quote(ids.email)) if ids.email else "cast(null as " ~ text ~ ")" }} as email,
        {{ "cast(" ~ adapter.quote(ids.phone) ~ " as " ~ text ~ ")" if ids.phone else "cast(null as " ~ text ~ ")" }} as phone_raw,
        {{ cdp.normalize_phone(adapter.quote(ids.phone)) if ids.phone else "cast(null as " ~ text ~ ")" }} as phone,
        {{ "upper(" ~ cdp.clean_string(adapter.quote(ids.loyalty_card_id)) ~ ")" if ids.loyalty_card_id else "cast(null as " ~ text ~ ")" }} as loyalty_card_id,
        {{ "lower(" ~ cdp.clean_string(adapter.quote(ids.device_id)) ~ ")" if ids.device_id else "cast(null as " ~ text ~ ")" }} as device_id,
        {{ cdp.clean_string(adapter.quote(ids.anonymous_id)) if ids.anonymous_id else "cast(null as " ~ text ~ ")" }} as anonymous_id,
        cast({{ adapter.quote(table.observed_at) }} as {{ dbt.type_timestamp() }}) as observed_at,
        cast({{ adapter.quote(table.loaded_at) }} as {{ dbt.type_timestamp() }}) as loaded_at
    from {{ table.relation }}
{%- endmacro %}
