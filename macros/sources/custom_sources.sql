{#- The raw tables added by configuration only (vars.cdp_custom_sources, docs/sources.md "Adding a table by
    config"), checked: any mistake is a compile error naming the file and the key. Returns each entry with its
    defaults filled in (schema: vars.cdp_raw_schema; observed_at: loaded_at). -#}
{% macro custom_sources() -%}
    {{ return(adapter.dispatch('custom_sources', 'cdp')()) }}
{%- endmacro %}

{% macro default__custom_sources() -%}
    {%- set where = "dbt_project.yml: vars.cdp_custom_sources" -%}
    {%- set identifier_columns = ['user_id', 'email', 'phone', 'loyalty_card_id', 'device_id', 'anonymous_id'] -%}
    {%- set entries = var('cdp_custom_sources', []) or [] -%}
    {%- if entries is string or entries is mapping or entries is not iterable -%}
        {{ exceptions.raise_compiler_error(where ~ " must be a list of tables (see docs/sources.md)") }}
    {%- endif -%}
    {%- set checked = [] -%}
    {%- set names = [] -%}
    {%- for entry in entries -%}
        {%- set key = where ~ "[" ~ loop.index0 ~ "]" -%}
        {%- if entry is not mapping -%}
            {{ exceptions.raise_compiler_error(key ~ " must be a mapping with name, table, record_id, loaded_at and identifiers") }}
        {%- endif -%}
        {%- for required in ['name', 'table', 'record_id', 'loaded_at', 'identifiers'] -%}
            {%- if entry.get(required) is none -%}
                {{ exceptions.raise_compiler_error(key ~ "." ~ required ~ " is missing") }}
            {%- endif -%}
        {%- endfor -%}
        {%- set name = entry.name | string | lower -%}
        {%- if not name.replace('_', '').isalnum() or name in names -%}
            {{ exceptions.raise_compiler_error(key ~ ".name '" ~ entry.name ~ "' must be a unique name of letters, digits and underscores") }}
        {%- endif -%}
        {%- do names.append(name) -%}
        {%- if entry.identifiers is not mapping or entry.identifiers | length == 0 -%}
            {{ exceptions.raise_compiler_error(key ~ ".identifiers must map identifier types to columns of " ~ entry.table) }}
        {%- endif -%}
        {%- for identifier_type in entry.identifiers -%}
            {%- if identifier_type not in identifier_columns -%}
                {{ exceptions.raise_compiler_error(key ~ ".identifiers." ~ identifier_type ~ " is not an identifier type a configured table can carry; use " ~ identifier_columns | join(', ')) }}
            {%- endif -%}
        {%- endfor -%}
        {%- do checked.append({
            'name': name,
            'key': key,
            'relation': api.Relation.create(database=(target.database or none), schema=entry.get('schema') or var('cdp_raw_schema', 'raw'), identifier=entry.table),
            'record_id': entry.record_id,
            'loaded_at': entry.loaded_at,
            'observed_at': entry.get('observed_at') or entry.loaded_at,
            'identifiers': entry.identifiers,
        }) -%}
    {%- endfor -%}
    {{ return(checked) }}
{%- endmacro %}
