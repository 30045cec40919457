{#- The composite identifiers of one identity source (source.composite_identifiers: a mapping of composite
    type to the source's columns, one per part in the type's order), checked against the types, as a list of
    {type, alias, columns, parts}; `key` names the source in compile errors. -#}
{% macro identity_composite_keys(source, types, key) -%}
    {%- set composites = source.get('composite_identifiers') or {} -%}
    {%- if composites is not mapping -%}
        {{ exceptions.raise_compiler_error(key ~ ".composite_identifiers must map composite identifier types to lists of columns of " ~ source.model) }}
    {%- endif -%}
    {%- set keys = [] -%}
    {%- for type, columns in composites.items() -%}
        {%- set entry = key ~ ".composite_identifiers." ~ type -%}
        {%- if type not in types -%}
            {{ exceptions.raise_compiler_error(entry ~ ": unknown identifier type '" ~ type ~ "'; declare it with its parts under dbt_project.yml: vars.cdp_identity.identifier_types") }}
        {%- endif -%}
        {%- set parts = types[type].parts -%}
        {%- if not parts -%}
            {{ exceptions.raise_compiler_error(entry ~ ": '" ~ type ~ "' has no parts; map its column under " ~ key ~ ".identifiers, or give the type parts") }}
        {%- endif -%}
        {%- if columns is string or columns is not iterable or columns | length != parts | length -%}
            {{ exceptions.raise_compiler_error(entry ~ " must list " ~ parts | length ~ " columns of " ~ source.model ~ ", one per part in order: " ~ parts | map(attribute='name') | join(', ')) }}
        {%- endif -%}
        {%- do keys.append({'type': type, 'alias': 'composite_key__' ~ type, 'columns': columns | list, 'parts': parts}) -%}
    {%- endfor -%}
    {{ return(keys) }}
{%- endmacro %}
